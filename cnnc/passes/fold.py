"""Batchnorm folding: which batchnorms disappear into the conv or dense before them.

At inference a batchnorm is an affine map per channel,

    y = (x - mean) / sqrt(var + eps) * gamma + beta  =  x * scale + shift,

so when it directly follows a conv/dense whose output nothing else reads, the
anchor's kernel is multiplied by `scale` (per output channel) and its bias becomes
`(bias - mean) * scale + beta`. That is only sound when the anchor's own activation
is `linear` (an activation sits between the GEMM and the batchnorm otherwise).

The decision lives here so every backend folds the same set; the arithmetic is
done by each generated module's `prepare` (it must run without cnnc) and by
`fold_arrays` below, for the PyTorch baseline of benchmarks/triton_gpu.py.
"""

from __future__ import annotations

from ..layers import Role


def folds_into(anchor) -> bool:
    """Can a batchnorm that alone reads `anchor`'s output fold into its weights?"""
    return anchor.spec.role is Role.ANCHOR and anchor.spec.folds_affine and anchor.activation == "linear"


def foldable_batchnorms(net) -> dict:
    """{batchnorm name: anchor name} for every batchnorm that can be folded."""
    out = {}
    for node in net.layers:
        if not node.spec.foldable:
            continue
        anchor = node.inputs[0]
        if folds_into(anchor) and net.consumers(anchor) == [node] and anchor is not net.output:
            out[node.name] = anchor.name
    return out


def fold_arrays(kernel, bias, gamma, beta, mean, var, eps):
    """Folded (kernel, bias) in float64; the last kernel axis is the output channel."""
    import numpy as np

    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    k = np.asarray(kernel, np.float64) * scale
    b = (np.asarray(bias, np.float64) - mean) * scale + beta
    return k, b
