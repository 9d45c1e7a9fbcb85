"""The language's words by role, read from the layer registry, for everything that colours
or completes a program: the Pygments lexer (highlight.py), the TextMate grammar
(make_textmate.py) and the language server (lsp/).

    statements()   layer statements that are not activations (conv, pool, ...)
    blocks()       block keywords and the other structure words (residual, repeat, def, ...)
    activations()  the activations (relu, ...), which are also statements on their own
    values()       the words options take (same, valid, true, false, nearest, bilinear)
"""

from __future__ import annotations

# Structure words that are not the registry's blocks: definitions and the joins of
# named outputs (the language's third edition).
STRUCTURE = ("def", "add", "multiply")


def statements() -> tuple:
    from .layers import ACTIVATION_NAMES, STATEMENTS

    return tuple(s for s in STATEMENTS if s not in ACTIVATION_NAMES)


def blocks() -> tuple:
    from .layers import BLOCKS

    return tuple(BLOCKS) + tuple(w for w in STRUCTURE if w not in BLOCKS)


def activations() -> tuple:
    from .layers import ACTIVATION_NAMES

    return tuple(ACTIVATION_NAMES)


def option_values(param) -> tuple:
    """The words a declared option takes (its choices), or () when it takes a number."""
    from .layers import ArgError
    from .syntax import Value

    try:
        param.parse(Value("\x00", "word", 1, 1))
    except ArgError as e:
        return tuple(e.choices)
    except Exception:
        return ()
    return ()


def values() -> tuple:
    from .layers import KINDS

    found = set()
    for spec in KINDS.values():
        for param in spec.options.values():
            found.update(option_values(param))
    return tuple(sorted(found))
