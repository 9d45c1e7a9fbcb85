"""Bringing networks in: other frameworks' models as cnnc programs, and the checks that
weights fit a program in meaning, not only in shape.

    statement.py   Op: one cnnc statement an importer makes (kind, attrs, weights, origin);
                   `complete` fills an Op's defaults from the layer registry
    meaning.py     what a run of statements computes, in canonical steps, so that two ways of
                   saying the same thing compare equal (an Activation layer and a fused ACT,
                   ZeroPadding2D and a conv's integer padding) and a difference is named
    keras/         the Keras 3 `.keras` reader's converters: one per Keras class

Nothing here imports Keras, torch or onnx.
"""
