"""The numpy lowerings of what works on each pixel alone: the per-channel affine maps
(batchnorm, layerscale, normalize: each folds into a linear anchor before it), layernorm
over a pixel's channels, rescale, and the activations."""

from __future__ import annotations

from ...layers import activation_of
from .group import Group
from .lowering import Lowering, bn_args, param
from .scratch import activation_scratch, numel, ufunc_buffer


class _PerChannel(Lowering):
    """A per-channel map on its own (not folded into an anchor): its in-place operations take
    a per-channel operand, broadcast over the pixels, for which numpy keeps buffers."""

    def scratch(self, g: Group, n: int) -> int:
        return ufunc_buffer(n * numel(g.head.out))


class BatchNormLowering(_PerChannel):
    """On its own (not folded): x * scale + shift, per channel."""

    def fold(self, node, w: str, bias, role: str) -> str:
        """The expression of (w, b): `w` and the anchor's `bias` (an expression or None) with this
        per-channel affine map folded in; its parameters are `p`'s with the prefix `role`."""
        return f"_fold({w}, {bias}, {bn_args(node, role)})"

    def prepare(self, gen, group) -> None:
        h = group.head
        gen.e.line(f"s['scale'], s['shift'] = _affine({bn_args(h)})")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * s['scale']")
        gen.e.line("y += s['shift']")
        return True


class LayerScaleLowering(_PerChannel):
    """Channel c times gamma[c]; after a linear anchor, folded into its weights."""

    def fold(self, node, w: str, bias, role: str) -> str:
        return f"_fold_affine({w}, {bias}, {param('gamma', role)}, 0.0)"

    def prepare(self, gen, group) -> None:
        gen.e.line(f"s['gamma'] = {param('gamma')}")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * s['gamma']")
        return True


def _normalize_arrays(node, role: str = "") -> str:
    """normalize's mean and variance as arguments: the program's constants, one per channel, or
    its weights (`p`'s, with the prefix `role`)."""
    consts = node.spec.constants(node.attrs, node.out.dims[-1])
    if consts is None:
        return f"{param('mean', role)}, {param('var', role)}"
    mean, var = consts
    return f"np.array({list(mean)!r}, np.float32), np.array({list(var)!r}, np.float32)"


class NormalizeLowering(_PerChannel):
    """(x - mean) / max(sqrt(var), 1e-7) per channel, in float32 as Keras's Normalization; after a
    linear anchor, folded into its weights as x * scale + shift."""

    def fold(self, node, w: str, bias, role: str) -> str:
        return f"_fold_affine({w}, {bias}, *_normalize_affine({_normalize_arrays(node, role)}))"

    def prepare(self, gen, group) -> None:
        h = group.head
        gen.e.line(f"s['mean'], s['den'] = _normalize_den({_normalize_arrays(h)})")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x - s['mean']")
        gen.e.line("y /= s['den']")
        return True


class LayerNormLowering(Lowering):
    """Each pixel's channels (a vector's values) normalised by their mean and biased variance,
    in float32 (as Keras's LayerNormalization on the torch backend), then gamma and beta."""

    def prepare(self, gen, group) -> None:
        for q in ("gamma", "beta"):
            gen.e.line(f"s[{q!r}] = {param(q)}")

    def body(self, gen, g: Group) -> bool:
        h = g.head
        gen.e.line(f"y = _layernorm(x, s['gamma'], s['beta'], {h.attrs['eps']!r})")
        return True

    def scratch(self, g: Group, n: int) -> int:
        """_layernorm's row statistics (the mean, then the variance: a float32 per row each),
        the squares it averages (one float32 per element), and numpy's buffers for its
        in-place operations with a broadcast operand."""
        elems = n * numel(g.head.out)
        rows = elems // g.head.out.dims[-1]
        return 4 * elems + 8 * rows + ufunc_buffer(elems)


class RescaleLowering(Lowering):
    """x * S + O, in float32 as Keras's Rescaling computes it."""

    def body(self, gen, g: Group) -> bool:
        a = g.head.attrs
        gen.e.line(f"y = x * np.float32({a['scale']!r})")
        if a["offset"]:
            gen.e.line(f"y += np.float32({a['offset']!r})")
        return True


class ActivationLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x")
        return gen.activation(activation_of(g.head), False)

    def apply(self, gen, node, fresh) -> bool:
        return gen.activation(activation_of(node), fresh)

    def scratch(self, g: Group, n: int) -> int:
        return self.apply_scratch(g.head, n)

    def apply_scratch(self, node, n: int) -> int:
        elems = n * numel(node.out)
        return activation_scratch(activation_of(node), elems, elems // node.out.dims[-1])
