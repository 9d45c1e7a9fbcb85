"""Kinds that keep the shape and work value by value: `batchnorm`, `dropout`, the activations."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Epilogue, Role


class BatchNorm(LayerKind):
    keyword = "batchnorm"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    options = {"eps": A.Param("eps", A.decimal("eps", 0.0, float("inf"), False, False), False, 0.001)}
    usage = "batchnorm [eps=E]"
    non_trainable = ("mean", "var")
    foldable = True

    def params(self, inp, out, attrs):
        c = (inp.dims[-1],)
        return {"gamma": c, "beta": c, "mean": c, "var": c}


class Dropout(LayerKind):
    keyword = "dropout"
    role = Role.VIEW
    positional = (A.Param("rate", A.decimal("the dropout rate", 0.0, 1.0, True, False)),)
    usage = "dropout RATE"


class ActivationLayer(LayerKind):
    """`relu`, `softmax`, ... alone; attrs["activation"] is the keyword."""
    role = Role.EPILOGUE
    epilogue = Epilogue.ACTIVATION

    def __init__(self, name: str):
        self.keyword = name

    def defaults(self, attrs) -> None:
        attrs["activation"] = self.keyword
