"""What every subcommand shares: argument types, reading a program, printing diagnostics.

Commands import this module, never cnnc.cli (which imports the commands).

Warnings: each is printed once per command, on stderr; `-q/--quiet` prints none and
`--werror` makes them errors (exit 1 before anything is written). cnnc.cli sets the
mode with `set_warnings` from the command line. Diagnostics are coloured only on a
terminal, and never when NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys

from ..errors import UsageError
from ..limits import input_problem, shown

STDIN = "-"             # a program read from standard input
STDIN_NAME = "<stdin>"  # ... and how its diagnostics name it

_mode = {"quiet": False, "werror": False}
_printed: set = set()


def _hxwxc(text: str) -> "tuple | None":
    try:
        dims = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        return None
    return dims if len(dims) == 3 and min(dims) > 0 else None


def input_shape_arg(text: str) -> tuple:
    """`--input HxWxC` as an argparse type (its limits are checked by load_network)."""
    dims = _hxwxc(text)
    if dims is None:
        import argparse

        raise argparse.ArgumentTypeError(f"expected HxWxC like 28x28x1, got '{shown(text)}'")
    return dims


def positive_arg(text: str) -> int:
    """A positive integer (`--batch B`, `--limit N`, ...) as an argparse type."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return n


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


def input_file(path):
    """An input path as refuse_overwriting_inputs takes it: None for standard input."""
    return None if path in (None, STDIN) else path


def load_network(path: str, input_shape=None):
    """Parse a program file (`-`: standard input) for a command; an unreadable file is a usage error."""
    from .. import parse
    from ..limits import MAX_PROGRAM_BYTES
    from ..backends.carried.safe_files import read_regular   # not runtime.files: tempfile

    name = STDIN_NAME if path == STDIN else path
    problem = input_problem(input_shape) if input_shape is not None else None
    if problem:  # the input statement's limits (cnnc/limits.py); a bad option is exit 2
        raise UsageError(f"--input: {problem}")
    from ..binary_files import program_text

    try:
        if path == STDIN:  # a pipe is fine here, but not an endless one
            data = sys.stdin.buffer.read(MAX_PROGRAM_BYTES + 1)
            if len(data) > MAX_PROGRAM_BYTES:
                raise OSError(27, f"larger than {MAX_PROGRAM_BYTES:,} bytes")
        else:
            data = read_regular(path, MAX_PROGRAM_BYTES)
        text = program_text(data)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return parse(text, input=input_shape, filename=name)
    except (ValueError, OverflowError, RecursionError) as e:
        # cnnc.parse reports a program's mistakes as CnncError; anything else that escapes it is
        # still about this program (a number or a nesting too large to handle): say so, exit 1
        from ..errors import CnncError

        raise CnncError(f"this program cannot be read: {_first_line(e)}", 1, 1, name) from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


# --- diagnostics ------------------------------------------------------------------

def set_warnings(quiet: bool = False, werror: bool = False) -> None:
    """How this command treats the program's warnings (see the module's docstring)."""
    _mode.update(quiet=bool(quiet), werror=bool(werror))
    _printed.clear()


def print_warnings(net) -> None:
    """Print the program's warnings (each once); with --werror they are errors (CnncError)."""
    if _mode["werror"] and net.warnings:
        from ..errors import CnncError, Diagnostic

        raise CnncError([Diagnostic("error", f"{w.text} [--werror]", w.line, w.col, w.filename, notes=w.notes)
                         for w in net.warnings])
    print_diagnostics(net.warnings)


# Like clang's -ferror-limit: past this many errors a program has one mistake repeated or is
# not a cnnc program at all; the rest are counted, not printed (--json still lists every one).
MAX_ERRORS_SHOWN = 50


def print_diagnostics(diagnostics) -> None:
    """Diagnostics on stderr, coloured on a terminal; warnings once each, none with --quiet;
    at most MAX_ERRORS_SHOWN errors, then how many more there are."""
    errors = 0
    for d in diagnostics:
        text = d.format()
        if d.severity == "warning":
            if _mode["quiet"] or text in _printed:
                continue
            _printed.add(text)
        else:
            errors += 1
            if errors > MAX_ERRORS_SHOWN:
                continue
        print(colour(text), file=sys.stderr)
    if errors > MAX_ERRORS_SHOWN:
        more = errors - MAX_ERRORS_SHOWN
        print(colour(f"cnnc: error: {more:,} more error{'s' if more != 1 else ''} not shown "
                     f"(the first {MAX_ERRORS_SHOWN} are above; --json lists them all)"), file=sys.stderr)


def error(message: str) -> None:
    """`cnnc: error: MESSAGE` on stderr."""
    print(colour(f"cnnc: error: {message}"), file=sys.stderr)


def note(message: str) -> None:
    """`note: MESSAGE` on stderr (none with --quiet)."""
    if not _mode["quiet"]:
        print(colour(f"note: {message}"), file=sys.stderr)


def use_colour(stream=None) -> bool:
    """Colour only on a terminal, never when NO_COLOR is set (no-color.org) or TERM is dumb."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


_BOLD, _RESET = "\033[1m", "\033[0m"
_SEVERITY = {"error:": "\033[1;31m", "warning:": "\033[1;35m", "note:": "\033[1;36m"}


def colour(line: str, stream=None) -> str:
    """A diagnostic line coloured as compilers do (the place bold, the severity red, magenta
    or cyan) when `use_colour(stream)`; unchanged otherwise."""
    if not use_colour(stream):
        return line
    found = []
    for word in _SEVERITY:
        at = 0 if line.startswith(word) else line.find(" " + word) + 1
        if at or line.startswith(word):
            found.append((at, word))
    if not found:
        return line
    at, word = min(found)  # the first severity word is the line's own
    head = line[:at].rstrip()
    head = f"{_BOLD}{head}{_RESET} " if head else ""
    return f"{head}{_SEVERITY[word]}{word}{_RESET}{line[at + len(word):]}"


def add_import_arguments(p, model_metavar: str, model_help: str) -> None:
    """The arguments of the importers (from-keras, from-onnx)."""
    p.add_argument("model", metavar=model_metavar, help=model_help)
    p.add_argument("-o", "--output", metavar="NET.cnn",
                   help="the program to write (default: the model's stem, .cnn, beside the model); its weights "
                        "go beside it as NET.npz")
    p.add_argument("--force", action="store_true", help="replace an existing program or weights file")


def run_import(args, convert, unconvertible) -> int:
    """An importer's command: NET.cnn and NET.npz from args.model through `convert(path, name=)`,
    which raises `unconvertible` (exit 1, nothing written) for what the language cannot say.
    An existing output is replaced only with --force, never an input; the weights are written
    first, each file atomically."""
    from ..bridges.importers.output import weights_beside, write_files
    from ..runtime import files

    model = args.model
    if not os.path.lexists(model):
        raise UsageError(f"{model}: no such file")
    out = args.output or os.path.join(os.path.dirname(model), os.path.splitext(os.path.basename(model))[0] + ".cnn")
    if not out.endswith(".cnn"):
        raise UsageError(f"-o {out}: the program's name ends in .cnn")
    weights = weights_beside(out)
    files.refuse_overwriting_inputs([out, weights], {"model": model})
    for path in (out, weights):
        if os.path.lexists(path) and not args.force:
            raise UsageError(f"{path} exists; refusing to replace it (give --force to replace it, or -o another name)")
        files.check_writable(path)
    try:
        text, params = convert(model, name=out)
    except unconvertible as e:
        error(str(e))
        return 1
    except OSError as e:
        raise UsageError(f"cannot read {model}: {e.strerror or e}") from None
    write_files(text, params, out)
    n = sum(int(a.size) for a in params.values())
    lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    print(f"wrote {out} ({lines} lines) and {weights} ({len(params)} arrays, {n:,} parameters)")
    return 0
