"""Code that only the numpy backend's modules carry: the array helpers (numpy_ops.py) and
the loop that runs a module's steps, with its model object (numpy_model.py). The backend
reads their text through cnnc.backends.carried.source, whose docstring says how a carried
file is laid out."""
