"""The tables of a generated module. What grows with the network -- its parameters, the
steps of `forward`, the kernel launches -- is data, one row a line, not code: Python
compiles every token of a module into memory at once (about a kilobyte each), while a
string literal is one token whatever its length. A 100,000-layer network so costs a few
hundred bytes per layer to import instead of tens of kilobytes, and the code that remains
is one function per *distinct* layer or fused group.

A table is a raw string literal holding one JSON array per line (json.dumps escapes every
quote, backslash and control character, so no text in a row can end the literal). `json`
is imported where it is read, like `zipfile` by the weights reader, so a module's header
imports only what its code computes with.
"""

# --- carried: everything below is inlined into generated modules ---


def rows(text):
    """The rows of a table written one JSON array a line (blank lines skipped)."""
    import json

    return json.loads("[" + ",".join(line for line in text.split("\n") if line) + "]")


def prepare_rows(table, params):
    """state: step -> what its prepare function makes of its layers' parameters. Each row is
    (step, prepare function, roles); the function gets the parameters of the layers named in
    `roles` ([prefix, layer]), each renamed prefix + suffix ('conv_1.kernel' as 'kernel' or
    'e0.kernel'), so steps that differ only in their layers' names share one function."""
    suffixes = {}
    for name in params:
        layer, _, suffix = name.rpartition(".")
        suffixes.setdefault(layer, []).append(suffix)
    state = {}
    for step, prepare_fn, roles in table:
        p = {role + sfx: params[layer + "." + sfx] for role, layer in roles for sfx in suffixes.get(layer, ())}
        state[step] = prepare_fn(p)
    return state
