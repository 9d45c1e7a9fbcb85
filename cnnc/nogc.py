"""`paused()`: Python's cyclic garbage collector paused while the front end builds.

A 100,000-layer program makes a few million small objects (tokens, statements, nodes,
table rows) and no reference cycles. Each collection the collector runs meanwhile walks
every one of them again, which cost a third of `cnnc shapes` on such a program and made
its time grow faster than its size (BENCHMARKS.md, front end). Reference counting still
frees everything as usual; only the cycle search waits until the block ends.
"""

from __future__ import annotations

import gc


class paused:
    """`with paused():` the collector off inside the block (nested blocks fine), back as it
    was after. A class, not contextlib (whose import alone costs `cnnc shapes` ~7 ms)."""

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc):
        if self.was:
            gc.enable()
        return False
