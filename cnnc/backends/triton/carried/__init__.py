"""Code that only the Triton backend's modules carry: the tile rules (triton_tiles.py), the
tuner that picks a config per kernel and batch size (triton_tuner.py) and the runtime with
its model object (triton_runtime.py). The backend reads their text through
cnnc.backends.carried.source, whose docstring says how a carried file is laid out; the
tuner and the runtime import torch and triton, so only code that runs kernels imports them."""
