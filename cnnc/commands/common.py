"""What every subcommand shares: argument types, reading a program, printing warnings.

Commands import this module, never cnnc.cli (which imports the commands).
"""

from __future__ import annotations

import sys

from ..errors import UsageError


def _hxwxc(text: str) -> "tuple | None":
    try:
        dims = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        return None
    return dims if len(dims) == 3 and min(dims) > 0 else None


def input_shape_arg(text: str) -> tuple:
    """`--input HxWxC` as an argparse type."""
    dims = _hxwxc(text)
    if dims is None:
        import argparse

        raise argparse.ArgumentTypeError(f"expected HxWxC like 28x28x1, got '{text}'")
    return dims


def seed_arg(text: str) -> int:
    """`--seed S` as an argparse type: numpy's generators take integers >= 0."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        import argparse

        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got '{text}'")
    return seed


def load_network(path: str, input_shape=None):
    """Parse a program file for a command; an unreadable file is a usage error."""
    from .. import parse

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    return parse(text, input=input_shape, filename=path)


def print_warnings(net) -> None:
    for w in net.warnings:
        print(w.format(), file=sys.stderr)
