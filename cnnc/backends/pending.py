"""A kind, or an option of a kind, that a backend or bridge does not lower yet, said plainly.

A LOWERINGS table may map a kind to `Pending(where)` while its lowering is being built,
and PENDING_OPTIONS lists options of kinds it does lower that it does not honour yet
(`conv dilation=`): `require_lowerings` (called by every backend and bridge before it
starts) then stops with a CnncError at the layer's line, never with a half-made module or
a wrong result. tests/test_registry.py lists every pending entry; a kind is done when none
is left.
"""

from __future__ import annotations

from ..errors import CnncError


class Pending:
    def __init__(self, where: str):
        self.where = where

    def __repr__(self) -> str:
        return f"Pending({self.where!r})"


# where (as require_lowerings is called) -> kind -> options that its lowering does not honour
# yet: a layer that sets one to anything but the option's default is refused
PENDING_OPTIONS: dict = {}


def require_lowerings(net, table: dict, where: str) -> None:
    """CnncError at the first layer whose kind `table` does not lower (yet), or that sets
    an option the lowering does not honour yet."""
    pending_options = PENDING_OPTIONS.get(where, {})
    for n in net.nodes:
        entry = table.get(n.kind, Pending(where))
        if isinstance(entry, Pending):
            raise CnncError(f"{n.name}: the {where} does not compile {n.kind} layers yet", n.line, n.col,
                            net.filename)
        for option in pending_options.get(n.kind, ()):
            value = (n.attrs or {}).get(option)
            if value != n.spec.options[option].default:
                written = "true" if value is True else "false" if value is False else value
                raise CnncError(f"{n.name}: the {where} does not compile {n.kind} with {option}="
                                f"{written if not isinstance(written, tuple) else 'x'.join(map(str, written))} "
                                f"yet", n.line, n.col, net.filename)
