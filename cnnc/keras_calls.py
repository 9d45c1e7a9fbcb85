"""Keras's call syntax read as the statement it means: `Conv2D(32, (3, 3), activation="relu")`
is one error, "did you mean 'conv 32 3x3 relu'?", and is read as that statement.

A call -- a name and '(' with nothing between -- starts a statement (at a line's start,
after `;`, `{` or `}`, or after a label) and is all of it, on one line; a functional
application after it (`Dense(10)(x)`) and a trailing comma (a `Sequential([...])` list)
belong to it. The arguments are mapped through the registry:
the layer's Keras name (ALIASES, or the keyword itself in any case), positional arguments
in the kind's order and then a window's stride and padding (Keras's order), Keras's option
names (OPTION_ALIASES), an activation as the bare word, `name="c1"` as the label. What the
registry does not read back without error is not suggested: the error names the
statement's usage instead.
"""

from __future__ import annotations

from .limits import shown

_CALL = None


def _call_starts():
    global _CALL
    if _CALL is None:
        import re

        _CALL = re.compile(r"(?:^|(?<=[;{}]))[ \t]*(?:[A-Za-z_]\w*[ \t]*:[ \t]*)?"
                           r"(?P<name>[A-Za-z_][\w.]*)\(")
    return _CALL


def read_calls(text: str, report, broken: list) -> str:
    """`text` with every Keras call rewritten in place as the statement it means (same
    length, same line and column for everything else), each reported once. A call whose
    statement is longer than the call, or that means nothing cnnc has, becomes the
    placeholder `_` of a statement that could not be read, and its (line, col) is added
    to `broken` (the graph gives it an unknown shape, without a second error)."""
    if "(" not in text:
        return text
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if "(" not in line:
            continue
        code = line[:_comment_start(line)]
        pieces, last = [], 0
        for m in _call_starts().finditer(code):
            if m.start("name") < last:
                continue
            end = _call_end(code, m.end() - 1)
            if end is None or code[end:].strip(" \t")[:1] not in ("", ";", "}"):
                continue   # words after it: a statement with a size in parentheses, not a call
            written = code[m.start("name"):end]
            col = m.start("name") + 1
            meant, message = _translate(m.group("name"), code[m.end():_close_of(code, m.end() - 1)],
                                        label=code[m.start():m.start("name")].strip() != "")
            report.error(f"'{shown(written.rstrip(', '), 80)}' is Keras's call syntax; {message}", number, col)
            if meant is None or len(meant) > len(written):
                meant = "_"
                broken.append((number, col))
            pieces.append(code[last:m.start("name")] + meant.ljust(len(written)))
            last = end
        if pieces:
            lines[number - 1] = "".join(pieces) + line[last:]
    return "\n".join(lines)


def _comment_start(line: str) -> int:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return i
    return len(line)


def _close_of(code: str, at: int) -> "int | None":
    """The index of the ')' that closes the '(' at `at`, or None."""
    depth, quote = 0, None
    for i in range(at, len(code)):
        ch = code[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return i
    return None


def _call_end(code: str, at: int) -> "int | None":
    """Where the call whose '(' is at `at` ends: after its ')', any applications `(x)` that
    follow, and a trailing comma."""
    close = _close_of(code, at)
    if close is None:
        return None
    end = close + 1
    while True:
        rest = code[end:]
        stripped = rest.lstrip(" \t")
        if stripped.startswith("("):
            close = _close_of(code, end + len(rest) - len(stripped))
            if close is None:
                return end
            end = close + 1
            continue
        if stripped.startswith(","):
            end += len(rest) - len(stripped) + 1
        return end


def _split(args: str) -> list:
    """Top-level comma-separated parts of a call's arguments."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(args):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return [p for p in parts if p]


class _Untranslatable(Exception):
    pass


def _value(text: str) -> "str | None":
    """A Python argument as cnnc writes it: 3, 0.5, same, 3x3, true; None for Python's None."""
    import re

    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    if text in ("True", "False"):
        return text.lower()
    if text == "None":
        return None
    if text[:1] in "([" and text[-1:] in ")]":
        parts = [p.strip() for p in text[1:-1].split(",") if p.strip()]
        if parts and all(re.fullmatch(r"\d+", p) for p in parts):
            return "x".join(parts)
        raise _Untranslatable
    if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[A-Za-z_][\w.]*", text):
        return text.rsplit(".", 1)[-1] if text[0].isalpha() else text   # tf.nn.relu -> relu
    raise _Untranslatable


def _kind_of(name: str):
    """The statement a Keras layer name means (`MaxPooling2D` -> pool), or None."""
    from .layers import ALIASES, KINDS

    plain = name.rsplit(".", 1)[-1].lower().replace("_", "")
    by_plain = {k.replace("_", ""): k for k in KINDS}
    return ALIASES.get(plain) or by_plain.get(plain) or ("input" if plain == "inputlayer" else None)


def _translate(name: str, args: str, label: bool) -> tuple:
    """(the statement meant or None, what to say after "is Keras's call syntax; ")."""
    from .layers import ACTIVATIONS, BLOCKS, KINDS, OPTION_ALIASES

    kind = _kind_of(name)
    base = name.rsplit(".", 1)[-1]
    if kind in KINDS and KINDS[kind].joins and KINDS[kind].named:
        return None, (f"a join names what it joins here: write {kind} NAME NAME... (the labels of earlier "
                      f"layers)" + (f", or {kind} {{ branch {{ ... }} branch {{ ... }} }}" if kind in BLOCKS else ""))
    if kind in BLOCKS or (kind in KINDS and KINDS[kind].joins):
        return None, f"a join is a block here: write {kind} {{ ... }} around the layers it joins"
    if kind is None and base.lower() != "activation":
        return None, "statements are written without parentheses: KIND ARG ... key=value (e.g. conv 32 3x3 relu)"
    try:
        parts = [(_keyword(p), _value(p.split("=", 1)[1]) if _keyword(p) else _value(p)) for p in _split(args)]
    except _Untranslatable:
        parts = None
    if base.lower() == "activation":   # Activation("relu"): the activation is the statement
        act = next((v for k, v in parts or () if k in (None, "activation")), "linear")
        if act is None:
            act = "linear"
        if act not in ACTIVATIONS:
            return None, f"write the activation alone (the activations are {', '.join(ACTIVATIONS)})"
        return act, f"did you mean '{act}'?"
    spec = KINDS[kind]
    usage = f"write it as `{spec.usage}`" if spec.usage else f"write it as `{kind}`"
    if parts is None:
        return None, usage
    positional = [p.name for p in spec.positional]
    if "stride" in spec.options and "padding" in spec.options:
        positional += ["stride", "padding"]   # Keras's order after a window's own arguments
    if spec.takes_activation:
        positional.append("activation")        # Dense(10, "relu")
    given: dict = {}
    dropped = []
    name_label = None
    for key, value in parts:
        if key is None:
            if not positional:
                return None, usage
            key = positional.pop(0)
        else:
            key = OPTION_ALIASES.get(key, key)
            if key == "name":
                name_label = value
                continue
            elif key not in positional and key not in spec.options and not (key == "activation"
                                                                           and spec.takes_activation):
                dropped.append(key)
                continue
            if key in positional:
                positional.remove(key)
        given[key] = value
    words = [kind]
    for p in spec.positional:
        if given.get(p.name) is not None:
            words.append(given.pop(p.name))
    act = given.pop("activation", None)
    words += [f"{k}={v}" for k, v in given.items() if v is not None]
    if act not in (None, "linear"):
        words.append(act)
    meant = " ".join(words)
    if name_label and not label:
        meant = f"{name_label}: {meant}"
    if not _reads_back(meant):
        return None, usage
    note = f" ({', '.join(k + '=' for k in dropped)} {'has' if len(dropped) == 1 else 'have'} no counterpart here)" \
        if dropped else ""
    return meant, f"did you mean '{meant}'?{note}"


def _keyword(part: str) -> "str | None":
    import re

    m = re.match(r"([A-Za-z_]\w*)\s*=(?!=)", part)
    return m.group(1) if m else None


def _reads_back(statement: str) -> bool:
    """Does `statement` parse, and its arguments read, without any error?"""
    from .errors import Reporter
    from .layers import KINDS, parse_args
    from .syntax import parse_program

    report = Reporter()
    program = parse_program(statement, report=report)
    if report.errors or program is None or len(program.statements) != 1:
        return False
    s = program.statements[0]
    spec = KINDS.get(s.kind)
    if spec is None:
        return False
    return parse_args(spec, s.args, lambda *a: report.error(a[0], 1, 1)) is not None and not report.errors
