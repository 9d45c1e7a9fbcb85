"""Fusion roles: what the planner (cnnc/passes/fusion.py) reads of a kind, and nothing else.

Like TVM's op patterns, each kind declares how it fuses; the planner never looks at
kind names, and each backend's Policy says which of these its kernels can absorb.
"""

from __future__ import annotations


class Choice:
    """One of a closed set of named values, compared by identity: what `enum.Enum` gives
    these three sets, without importing `enum`, which alone costs about a third of
    `python -c pass` and so a tenth of the `cnnc shapes` start-up budget (BENCHMARKS.md).
    A subclass lists its members as upper-case class attributes holding their values;
    each becomes an instance with `.name` and `.value`."""

    __slots__ = ("name", "value")

    def __init_subclass__(cls) -> None:
        for name, value in list(vars(cls).items()):
            if name.isupper():
                member = object.__new__(cls)
                object.__setattr__(member, "name", name)
                object.__setattr__(member, "value", value)
                setattr(cls, name, member)

    def __setattr__(self, name, value):
        raise AttributeError(f"{self!r} cannot be changed")

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __reduce__(self) -> str:
        return f"{type(self).__qualname__}.{self.name}"   # pickle and copy give the member itself


class Role(Choice):
    INPUT = "input"          # the network's input
    ANCHOR = "anchor"        # does the heavy work (conv, dwconv, sepconv, deconv, dense): starts a group,
                             # absorbs epilogues
    EPILOGUE = "epilogue"    # works on the value just computed: absorbed into the group before it
    PROLOGUE = "prologue"    # prepares the input of what reads it (zeropad, upsample, the scale join): a
                             # backend may fold it into the input gather of the anchor that alone reads it
                             # (see Prologue); otherwise it is a group of its own
    VIEW = "view"            # no work at inference (flatten, dropout): aliases its input
    JOIN = "join"            # a block's join that costs nothing (concat: branches write in place)


class Epilogue(Choice):
    """What an epilogue does to the group's value, which decides where a kernel can put it."""
    AFFINE = "affine"            # x * scale + shift, per channel (batchnorm) or for all (rescale)
    ACTIVATION = "activation"    # elementwise (relu, softmax over the channel row, ...)
    POOL = "pool"                # a window reduction (max/avg pool)
    REDUCE = "reduce"            # over every pixel of an image (globalpool, globalmaxpool)
    ADD = "add"                  # plus another tensor of the same shape (residual's join)
    ROW = "row"                  # over each pixel's whole channel row, with per-channel weights
                                 # (layernorm): a kernel holds the whole row, as for softmax


class Prologue(Choice):
    """What a prologue does to the input of the anchor after it, which decides whether that
    anchor can do it while it gathers its input instead of a pass of its own."""
    PAD = "pad"                  # zero rows/columns around the image (zeropad): an index map, zeros
                                 # outside; adds to the next window's own padding
    RESAMPLE = "resample"        # a larger image (upsample): nearest is an index map (each output pixel
                                 # is one input pixel: spec.gather_only), bilinear mixes four pixels
    CROP = "crop"                # rows/columns removed at the edges (crop): an index map, shifted by
                                 # the rows and columns cut at the top and left, never outside
    GATE = "gate"                # times a vector of C values per image, the same for every pixel (the
                                 # scale join: x · gate, squeeze-and-excitation): the reader scales what
                                 # it gathers, channel by channel
