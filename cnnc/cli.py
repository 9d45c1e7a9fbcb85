"""The `cnnc` command line.

Each subcommand lives in cnnc/commands/NAME.py with `add_arguments(parser)` and
`run(args) -> exit code`; those modules import nothing heavy at the top, so
`cnnc shapes` stays fast and never loads numpy, torch or triton.

Exit codes: 0 ok, 1 errors in the program (or weights that do not fit it), 2 bad usage
or a file that cannot be read or written. Every exception that reaches `main` is one
of those with a one-line message; 3 ("internal error") is left for a bug in cnnc.
"""

from __future__ import annotations

import os
import sys

from .commands.common import STDIN, _hxwxc
from .errors import CnncError, UsageError, WeightsError

COMMANDS = ("shapes", "compile", "check", "train", "graph", "featuremaps", "tune", "fmt", "lsp", "play", "from-keras",
            "from-onnx")

EXIT_OK, EXIT_PROGRAM, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
_state = {"stdout_failed": False}

EPILOG = """\
examples:
  cnnc shapes examples/lenet.cnn                    shapes, parameters, MACs
  echo 'input 8x8x1; conv 4 3x3' | cnnc shapes -    a program from stdin
  cnnc compile examples/lenet.cnn -o lenet.py       lenet.py and lenet.npz
  cnnc compile examples/lenet.cnn --backend triton  fused Triton kernels
  cnnc check examples/lenet.cnn --input 12x12x1     Triton against numpy
  cnnc graph examples/lenet.cnn -o lenet.svg        a picture of the graph
  cnnc play examples/lenet.cnn                      the playground, in a browser
  cnnc fmt examples/                                the canonical layout, in place

Each command has its own help: cnnc COMMAND --help. Exit codes: 0 ok, 1 errors
in the program, 2 bad usage or a file that cannot be read or written. The full
reference is README.md and docs/ (language.md, numpy.md, triton.md, bridges.md,
playground.md) in cnnc's source tree.
"""


def _help_formatter(prog):
    """argparse's formatter (descriptions and examples kept as written) with the terminal
    width found without `shutil` (3 ms of start-up)."""
    import argparse

    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 80
    return argparse.RawDescriptionHelpFormatter(prog, width=max(width - 2, 11))


class _Args:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plain_shapes_args(argv) -> "_Args | None":
    """`cnnc shapes FILE... [--json] [--input HxWxC] [-q] [--werror]` read without argparse.

    Building the argparse parser costs `cnnc shapes` about 8 ms of its ~45 ms (its
    import and gettext look-ups; BENCHMARKS.md). Only the plain, well-formed spellings
    are taken here; anything else (help, an error, an abbreviation) returns None
    and goes through argparse as usual.
    """
    if not argv or argv[0] != "shapes":
        return None
    files, as_json, shape, quiet, werror = [], False, None, False, False
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--json" and not as_json:
            as_json = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a == "--werror":
            werror = True
        elif (a == "--input" or a.startswith("--input=")) and shape is None:
            if a == "--input":
                i += 1
                if i == len(rest):
                    return None
                a = "--input=" + rest[i]
            shape = _hxwxc(a[len("--input="):])
            if shape is None:
                return None
        elif a.startswith("-") and a != STDIN:
            return None
        else:
            files.append(a)
        i += 1
    if not files:
        return None
    return _Args(command="shapes", files=files, json=as_json, input=shape, quiet=quiet, werror=werror,
                 batch=None, device_memory=None)


def _unknown_command(argv) -> "str | None":
    """The message for a command that does not exist (with a did-you-mean), or None."""
    word = next((a for a in argv if not a.startswith("-")), None)
    if word is None or word in COMMANDS:
        return None
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"the commands are {', '.join(COMMANDS)}"
    return f"unknown command '{word}'; {hint} (cnnc --help lists them)"


def _command_module(name: str):
    """cnnc/commands/NAME.py. Through __import__: the `importlib` package (and the
    `warnings` it imports) would add to every command's start-up."""
    module = f"cnnc.commands.{name.replace('-', '_')}"
    __import__(module)
    return sys.modules[module]


def main(argv=None) -> int:
    from .commands import common

    argv = sys.argv[1:] if argv is None else list(argv)
    args = _plain_shapes_args(argv)
    if args is not None:
        from .commands import shapes

        modules = {"shapes": shapes}
    else:
        unknown = _unknown_command(argv)
        if unknown:
            common.error(unknown)
            return EXIT_USAGE
        args, modules = _parse_with_argparse(argv)   # SystemExit for --help, --version and bad usage
    common.set_warnings(args.quiet, args.werror)
    try:
        if args.quiet:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # the libraries' warnings too
                code = modules[args.command].run(args)
        else:
            code = modules[args.command].run(args)
        sys.stdout.flush()   # a full disk or a closed pipe is found here, not at exit
        return code
    except WeightsError as e:  # not a program error: it has no place in the program
        common.print_diagnostics(e.warnings)
        common.error(str(e))
        return EXIT_USAGE if e.unreadable else EXIT_PROGRAM
    except CnncError as e:
        if isinstance(e, UsageError):  # a missing optional package: both, reported as usage
            common.error(str(e))
            return EXIT_USAGE
        common.print_diagnostics(e.warnings)
        common.print_diagnostics(e.diagnostics)
        return EXIT_PROGRAM
    except UsageError as e:
        common.error(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cnnc shapes x | head`: the reader has what it wanted
        _state["stdout_failed"] = True
        return EXIT_OK
    except MemoryError as e:  # e.g. --batch or --input far too large for this machine
        common.error(f"out of memory{': ' + str(e) if str(e) else ''}; try a smaller batch or input")
        return EXIT_USAGE
    except OSError as e:  # a file or stream that cannot be read or written (a full disk, /dev/full)
        if e.filename:
            common.error(f"{os.fsdecode(e.filename)}: {e.strerror or e}")
        else:  # files are written by name (and say so): a nameless one is stdout
            _state["stdout_failed"] = True
            common.error(f"cannot write the output: {e.strerror or e}")
        return EXIT_USAGE
    except Exception as e:  # a bug in cnnc, not in the program: short, no traceback unless asked
        if os.environ.get("CNNC_DEBUG"):
            raise
        common.error(f"internal error: {type(e).__name__}: {e} (a bug in cnnc; set CNNC_DEBUG=1 for details)")
        return EXIT_BUG


def _discard_stdout() -> None:
    """After stdout failed, send what is still buffered to /dev/null, so that Python's own
    flush at exit does not fail again with a traceback (for the `cnnc` process only: a
    program that calls main() keeps its stdout)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _add_common_options(p, top: bool) -> None:
    """-q and --werror, before or after the command (`cnnc -q shapes x`, `cnnc shapes x -q`)."""
    import argparse

    given = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("-q", "--quiet", action="store_true", help="print no warnings and no notes", **given)
    p.add_argument("--werror", action="store_true",
                   help="treat the program's warnings as errors (exit 1, nothing written)", **given)


def _parse_with_argparse(argv):
    """(args, {command: module}); --help and --version print and exit 0 only when what they
    printed reached stdout (into a full disk or /dev/full: exit 2, as every other write)."""
    try:
        args = _argparse(argv)
        sys.stdout.flush()
        return args
    except OSError as err:   # argparse itself ignores a failed write: _Parser does not
        _state["stdout_failed"] = True
        if isinstance(err, BrokenPipeError):   # `cnnc --help | head`: the reader has what it wanted
            raise SystemExit(EXIT_OK) from None
        from .commands import common

        try:
            common.error(f"cannot write the output: {err.strerror or err}")
        except OSError:
            pass
        raise SystemExit(EXIT_USAGE) from None


def _parser_class():
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse's parser, except that a help, usage or version text that cannot be written
        raises OSError (argparse drops the error and exits 0 as if it had been printed)."""

        def _print_message(self, message, file=None):
            if message:
                file = sys.stderr if file is None else file
                file.write(message)
                file.flush()

    return _Parser


def _argparse(argv):
    parser = _parser_class()(prog="cnnc", description="cnnc: a compiler for convolutional networks",
                                     epilog=EPILOG, formatter_class=_help_formatter)
    parser.add_argument("-V", "--version", action="version", version=f"cnnc {__import__('cnnc').__version__}")
    _add_common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = {}
    # Import only the command asked for (each import costs start-up time); all of
    # them when there is none, so that `cnnc --help` lists every command.
    given = [a for a in argv if a in COMMANDS]
    wanted = given[:1] or COMMANDS
    for name in wanted:
        mod = _command_module(name)
        p = sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0], description=mod.__doc__,
                           formatter_class=_help_formatter)
        mod.add_arguments(p)
        _add_common_options(p, top=False)
        modules[name] = mod
    return parser.parse_args(argv), modules


def entry() -> None:
    try:
        code = main()
    except SystemExit as e:   # --help, --version, bad usage
        code = e.code
    if _state["stdout_failed"]:
        _discard_stdout()
    sys.exit(code)
