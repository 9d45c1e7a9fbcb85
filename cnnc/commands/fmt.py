"""Rewrite programs in the one canonical layout (docs/language.md, "Layout").

Each FILE is formatted in place (atomically; an unchanged file is not written);
a folder stands for every .cnn file under it. `-` reads standard input and writes
the result to standard output. --check writes nothing: it names the files that would
change and exits 1 if there is one. A file with a syntax error is left unchanged
(its errors printed, exit 1); shape errors do not stop formatting.

    cnnc fmt net.cnn
    cnnc fmt --check examples/
    cat net.cnn | cnnc fmt - > tidy.cnn
"""

from __future__ import annotations

from .common import STDIN, STDIN_NAME, UsageError


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="programs or folders of .cnn programs to format (- reads standard input)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; list the files that would change and exit 1 if any would")


def run(args) -> int:
    import sys

    from ..errors import CnncError
    from .common import error, print_diagnostics

    if STDIN in args.files and len(args.files) > 1:
        raise UsageError("- (standard input) cannot be formatted together with files")
    if args.files == [STDIN]:
        text = _read_stdin()
        try:
            out = _format(text, STDIN_NAME)
        except CnncError as e:
            print_diagnostics(e.diagnostics)
            return 1
        if args.check:
            if out != text:
                print(f"{STDIN_NAME} would be reformatted")
                return 1
            return 0
        sys.stdout.write(out)
        return 0
    paths = _expand(args.files)
    worst = 0
    for path in paths:
        try:
            text = _read(path)
        except UsageError as e:
            error(str(e))
            worst = 2
            continue
        try:
            out = _format(text, path)
        except CnncError as e:
            print_diagnostics(e.diagnostics)
            worst = max(worst, 1)
            continue
        if out == text:
            continue
        if args.check:
            print(f"{path} would be reformatted")
            worst = max(worst, 1)
            continue
        try:
            _write(path, out)
        except (OSError, UsageError) as e:
            error(f"cannot write {path}: {getattr(e, 'strerror', None) or e}")
            worst = 2
            continue
        print(f"formatted {path}")
    return worst


def _format(text: str, name: str) -> str:
    from ..format import format_text

    return format_text(text, name)


def _expand(given) -> list:
    """Files as given; a folder is every .cnn file under it, sorted (hidden folders skipped)."""
    import os

    out = []
    for path in given:
        if os.path.isdir(path):
            found = []
            for folder, subfolders, names in os.walk(path):
                subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
                found += [os.path.join(folder, n) for n in names if n.endswith(".cnn")]
            out += sorted(found)
        else:
            out.append(path)
    return out


def _read(path: str) -> str:
    """The file's text as written (line ends untouched: `\\r\\n` counts as a change)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None


def _read_stdin() -> str:
    import sys

    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {STDIN_NAME}: {getattr(e, 'strerror', None) or e}") from None


def _write(path: str, text: str) -> None:
    """Atomically, through a link to the file it names (the link stays a link)."""
    import os

    from ..runtime.files import check_writable, write_atomic

    target = os.path.realpath(path)
    check_writable(target)

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(text.encode("utf-8"))

    write_atomic(target, write)
