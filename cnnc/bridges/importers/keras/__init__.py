"""Keras 3 `.keras` files: the typed view of a layer's configuration (settings.py) and one
converter per Keras class (converters.py)."""
