"""The `cnnc` command line.

Each subcommand lives in cnnc/commands/NAME.py with `add_arguments(parser)` and
`run(args) -> exit code`; those modules import nothing heavy at the top, so
`cnnc shapes` stays fast and never loads numpy, torch or triton.

Exit codes (SPEC §2): 0 ok, 1 errors in the program, 2 bad usage or an unreadable file.
"""

from __future__ import annotations

import importlib
import os
import sys

from .commands.common import _hxwxc
from .errors import CnncError, UsageError, WeightsError  # noqa: F401  (UsageError: for callers of main)

COMMANDS = ("shapes", "compile", "check", "train", "graph", "featuremaps")

EXIT_OK, EXIT_PROGRAM, EXIT_USAGE = 0, 1, 2


def _help_formatter(prog):
    """argparse's formatter with the terminal width found without `shutil` (3 ms of start-up)."""
    import argparse

    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 11))


class _Args:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plain_shapes_args(argv) -> "_Args | None":
    """`cnnc shapes FILE [--json] [--input HxWxC]` read without argparse.

    Building the argparse parser costs `cnnc shapes` about 8 ms of its ~45 ms (its
    import and gettext look-ups; BENCHMARKS.md). Only the plain, well-formed spellings
    are taken here; anything else (help, an error, an abbreviation) returns None
    and goes through argparse as usual.
    """
    if not argv or argv[0] != "shapes":
        return None
    file, as_json, shape = None, False, None
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--json" and not as_json:
            as_json = True
        elif (a == "--input" or a.startswith("--input=")) and shape is None:
            if a == "--input":
                i += 1
                if i == len(rest):
                    return None
                a = "--input=" + rest[i]
            shape = _hxwxc(a[len("--input="):])
            if shape is None:
                return None
        elif a.startswith("-") or file is not None:
            return None
        else:
            file = a
        i += 1
    if file is None:
        return None
    return _Args(command="shapes", file=file, json=as_json, input=shape)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _plain_shapes_args(argv)
    if args is not None:
        modules = {"shapes": importlib.import_module("cnnc.commands.shapes")}
    else:
        args, modules = _parse_with_argparse(argv)
    try:
        return modules[args.command].run(args)
    except WeightsError as e:  # not a program error: it has no place in the program
        print(f"cnnc: error: {e}", file=sys.stderr)
        return EXIT_USAGE if e.unreadable else EXIT_PROGRAM
    except CnncError as e:
        for w in e.warnings:
            print(w.format(), file=sys.stderr)
        print(str(e), file=sys.stderr)
        return EXIT_PROGRAM
    except UsageError as e:
        print(f"cnnc: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except MemoryError as e:  # e.g. --batch or --input far too large for this machine
        print(f"cnnc: error: out of memory{': ' + str(e) if str(e) else ''}; try a smaller batch or input",
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug in cnnc, not in the program: short, no traceback unless asked
        if os.environ.get("CNNC_DEBUG"):
            raise
        print(f"cnnc: internal error: {type(e).__name__}: {e} (set CNNC_DEBUG=1 for details)", file=sys.stderr)
        return 3


def _parse_with_argparse(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="cnnc", description="cnnc: a compiler for convolutional networks",
                                     formatter_class=_help_formatter)
    parser.add_argument("--version", action="version", version=f"cnnc {__import__('cnnc').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = {}
    # Import only the command asked for (each import costs start-up time); all of
    # them when there is none, so that `cnnc --help` lists every command.
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS
    for name in wanted:
        mod = importlib.import_module(f"cnnc.commands.{name}")
        p = sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0], description=mod.__doc__,
                           formatter_class=_help_formatter)
        mod.add_arguments(p)
        modules[name] = mod
    return parser.parse_args(argv), modules


def entry() -> None:
    sys.exit(main())
