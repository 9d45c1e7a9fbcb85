"""The numpy backend's Lowering: what each kind's entry in LOWERINGS says about computing it,
and the helpers that name a group's parameters in its prepare function."""

from __future__ import annotations

from ...errors import CnncError

# the prefix of a folded batchnorm's parameters in its group's prepare function (`p['bn.gamma']`)
BN_ROLE = "bn."


class Lowering:
    """How the numpy backend computes one kind.

    prepare(gen, group)  lines of the group's prepare function that put what the group's
                         function reads into its state `s` (only for the head), from `p`:
                         the group's parameters by role (`p['kernel']`, `p['bn.gamma']`)
    params(group)        the group function's parameters (the inputs it reads)
    body(gen, group)     as the head: code that makes `y` from the parameters; returns
                         whether y is a fresh array (else it may alias an input). The
                         generator then applies the absorbed nodes, unless `whole`.
    apply(gen, node, fresh)  as an absorbed node: change y in place; returns freshness
    view(gen, node, src) for a view: the expression of its value (its step's function)

    and what the code it emits allocates, so that `cnnc shapes --batch` can say how much
    memory a forward pass takes without running it (cnnc/memory.py adds up the lifetimes):

    scratch(group, n)    as the head, for a batch of n: the most bytes the group's function
                         holds at one moment besides its inputs and the array it returns
                         (which the caller counts, whole, from the moment it exists): im2col
                         matrices, padded copies, per-chunk results, an activation's
                         temporaries, numpy's ufunc buffer (`ufunc_buffer`) for an in-place
                         operation with a broadcast operand. For a `whole` lowering this
                         covers the whole group; otherwise the generator's group takes the
                         largest of it and each absorbed node's `apply_scratch`.
    apply_scratch(node, n)  as an absorbed node: the bytes its in-place step holds beyond y.

    Both are plain arithmetic on shapes (no numpy: `cnnc shapes` never imports it). The
    defaults (0) fit code that allocates nothing but its result (`y = a + b`,
    `np.concatenate`). tests/test_memory.py checks every kind against tracemalloc: a new
    lowering declares its scratch, and a new kind adds a program there.
    """
    whole = False   # body() emits the whole group (its epilogues too) and the return

    def takes_pool(self, node) -> bool:
        return False

    def scratch(self, group, n: int) -> int:
        return 0

    def apply_scratch(self, node, n: int) -> int:
        return 0

    def prepare(self, gen, group) -> None:
        pass

    def params(self, group) -> list:
        return ["x", "skip"] if group.res is not None else ["x"]

    def body(self, gen, group) -> bool:
        raise CnncError(f"the numpy backend cannot compute {group.head.kind} ({group.head.name}) as a function",
                        group.head.line, group.head.col)

    def apply(self, gen, node, fresh) -> bool:
        raise CnncError(f"the numpy backend cannot fuse {node.kind} ({node.name})", node.line, node.col)

    def view(self, gen, node, src) -> str:
        raise CnncError(f"the numpy backend has no view for {node.kind} ({node.name})", node.line, node.col)


def bn_args(bn, role: str = "") -> str:
    """A batchnorm's gamma, beta, mean, var and eps as arguments of _fold/_affine: 1.0 for a
    missing gamma (scale=false), 0.0 for a missing beta (center=false). `role`: its place in
    the group (ROLES), which prefixes its parameters in the group's `p`."""
    missing = {"gamma": "1.0", "beta": "0.0"}
    arrays = [f"p[{role + q!r}]" if q in bn.params else missing[q] for q in ("gamma", "beta", "mean", "var")]
    return ", ".join(arrays) + f", {bn.attrs['eps']!r}"


def param(suffix: str, role: str = "") -> str:
    """A parameter of the group's layer in `role` ('': the head, BN_ROLE: a folded affine
    epilogue) in its group's prepare function: `p['kernel']`, `p['bn.gamma']`."""
    return f"p[{role + suffix!r}]"
