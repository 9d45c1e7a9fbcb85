"""Fusion roles: what the planner (cnnc/passes/fusion.py) reads of a kind, and nothing else.

Like TVM's op patterns, each kind declares how it fuses; the planner never looks at
kind names, and each backend's Policy says which of these its kernels can absorb.
"""

from __future__ import annotations

import enum


class Role(enum.Enum):
    INPUT = "input"          # the network's input
    ANCHOR = "anchor"        # does the heavy work (conv, dense): starts a group, absorbs epilogues
    EPILOGUE = "epilogue"    # works on the value just computed: absorbed into the group before it
    VIEW = "view"            # no work at inference (flatten, dropout): aliases its input
    JOIN = "join"            # a block's join that costs nothing (concat: branches write in place)


class Epilogue(enum.Enum):
    """What an epilogue does to the group's value, which decides where a kernel can put it."""
    AFFINE = "affine"            # per channel x * scale + shift (batchnorm)
    ACTIVATION = "activation"    # elementwise (relu, softmax over the channel row, ...)
    POOL = "pool"                # a window reduction (max/avg pool)
    REDUCE = "reduce"            # over every pixel of an image (globalpool)
    ADD = "add"                  # plus another tensor of the same shape (residual's join)
