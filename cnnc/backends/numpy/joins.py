"""The numpy lowerings of the joins: the scale join and multiply (a gate), residual and add
(a sum), concat."""

from __future__ import annotations

from .group import Group
from .lowering import Lowering
from .scratch import numel, ufunc_buffer


def _broadcast(node) -> bool:
    """A gate join (scale, multiply) whose gate is a vector of the image's channels."""
    return node.inputs[0].out != node.inputs[1].out


class ScaleLowering(Lowering):
    """The scale join and multiply: the image times its gate, one value per image and channel
    -- or, for `multiply a b` of one shape, elementwise."""

    def params(self, group) -> list:
        return ["x", "gate"]

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * gate[:, None, None, :]" if _broadcast(g.head) else "y = x * gate")
        return True

    def scratch(self, g: Group, n: int) -> int:
        if not _broadcast(g.head):
            return 0
        return ufunc_buffer(n * numel(g.head.out))   # the gate, broadcast over the pixels


class SumLowering(Lowering):
    """residual and add: the sum of the inputs, each times its coefficient (a scaled
    residual's block: spec.coefficients), in order -- Keras's Add sums left to right. A plain
    sum of two after an anchor is `y += skip` inside its group (NumpyPolicy)."""

    @staticmethod
    def plain(node) -> bool:
        return len(node.inputs) == 2 and all(c == 1.0 for c in node.spec.coefficients(node))

    def params(self, group) -> list:
        return ["*xs"]

    def body(self, gen, g: Group) -> bool:
        c = g.head.spec.coefficients(g.head)
        scaled = [i for i in range(len(c)) if c[i] != 1.0]
        order = scaled + [i for i in range(len(c)) if c[i] == 1.0]
        first = order[0]
        if c[first] != 1.0:
            gen.e.line(f"y = xs[{first}] * np.float32({c[first]!r})")
            rest = order[1:]
        else:
            gen.e.line(f"y = xs[{first}] + xs[{order[1]}]")
            rest = order[2:]
        for i in rest:
            gen.e.line(f"y += xs[{i}]" if c[i] == 1.0 else f"y += xs[{i}] * np.float32({c[i]!r})")
        return True

    def scratch(self, g: Group, n: int) -> int:
        c = g.head.spec.coefficients(g.head)
        # a second scaled input is a temporary of the output's size
        return 4 * n * numel(g.head.out) if sum(x != 1.0 for x in c) > 1 else 0

    def apply(self, gen, node, fresh) -> bool:
        gen.e.line("y += skip")  # the group's generator passes the other operand as `skip`
        return True


class ConcatLowering(Lowering):
    def params(self, group) -> list:
        return ["*xs"]

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = np.concatenate(xs, axis=-1)")
        return True
