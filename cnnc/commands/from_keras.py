"""Write a cnnc program (and its weights beside it) equivalent to a Keras 3 .keras model.

    cnnc from-keras resnet50.keras                 # writes resnet50.cnn and resnet50.npz beside it
    cnnc from-keras net.keras -o models/net.cnn    # models/net.cnn and models/net.npz

Keras is not needed: the .keras zip is read with the standard library and h5py, nothing is
unpickled. A layer or option the language cannot say exits 1 naming every such layer, and
nothing is written. An existing output is never replaced without --force, never the model.
"""

from __future__ import annotations

from .common import add_import_arguments, run_import


def add_arguments(p) -> None:
    add_import_arguments(p, "MODEL.keras", "a Keras 3 model saved with model.save('NAME.keras')")


def run(args) -> int:
    from ..bridges.importers.keras.model import Unconvertible, convert

    return run_import(args, convert, Unconvertible)
