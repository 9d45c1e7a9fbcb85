"""Kinds that keep the shape and work value by value: `batchnorm`, `rescale`, `dropout`, the activations."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Epilogue, Role


class BatchNorm(LayerKind):
    """BatchNormalization at inference, per channel (the last axis):
    (x - mean) / sqrt(var + eps) * gamma + beta. `scale=false` drops gamma (1),
    `center=false` drops beta (0), as Keras's scale/center do."""
    keyword = "batchnorm"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    options = {"eps": A.Param("eps", A.decimal("eps", 0.0, float("inf"), False, False), False, 0.001),
               "scale": A.Param("scale", A.boolean("scale"), False, True),
               "center": A.Param("center", A.boolean("center"), False, True)}
    usage = "batchnorm [eps=E] [scale=false] [center=false]"
    non_trainable = ("mean", "var")
    foldable = True

    def params(self, inp, out, attrs):
        c = (inp.dims[-1],)
        p = {"gamma": c} if attrs["scale"] else {}
        if attrs["center"]:
            p["beta"] = c
        p["mean"] = p["var"] = c
        return p


class Rescale(LayerKind):
    """Rescaling(scale, offset): x * S + O for every value, no parameters."""
    keyword = "rescale"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    positional = (A.Param("scale", A.real("the scale")),)
    options = {"offset": A.Param("offset", A.real("the offset"), False, 0.0)}
    usage = "rescale SCALE [offset=O]"


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
