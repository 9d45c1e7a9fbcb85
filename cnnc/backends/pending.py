"""A kind that a backend or bridge does not lower yet, said plainly.

A LOWERINGS table may map a kind to `Pending(where)` while its lowering is being built:
`require_lowerings` (called by every backend and bridge before it starts) then stops with
a CnncError at the layer's line, never with a half-made module. tests/test_registry.py
lists every pending entry; a kind is done when none is left.
"""

from __future__ import annotations

from ..errors import CnncError


class Pending:
    def __init__(self, where: str):
        self.where = where

    def __repr__(self) -> str:
        return f"Pending({self.where!r})"


def require_lowerings(net, table: dict, where: str) -> None:
    """CnncError at the first layer whose kind `table` does not lower (yet)."""
    for n in net.nodes:
        entry = table.get(n.kind, Pending(where))
        if isinstance(entry, Pending):
            raise CnncError(f"{n.name}: the {where} does not compile {n.kind} layers yet", n.line, n.col,
                            net.filename)
