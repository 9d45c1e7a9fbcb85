"""The playground: type a network in a web page and watch its shapes, errors and feature maps.

Serves a page on 127.0.0.1 (port 8765 unless --port; 0 picks a free one) with an editor
holding FILE (or LeNet), and beside it, updated as you type: the shape table, the errors
and warnings (also marked in the editor), the graph, each layer's shape arithmetic and
receptive field, and the feature maps of an image you give or a digit you draw (numpy
backend; weights: FILE's own STEM.npz or STEM.safetensors beside it, else seeded). Prints
its address, with a per-session token, and opens it in a browser unless --no-browser.
Nothing is written unless you press Save, which writes the program to FILE (only the
file it opened, and only while that file is unchanged on disk) or to a new file. Ctrl-C
stops it.

    cnnc play                        # LeNet
    cnnc play examples/digits/digits.cnn --port 9000 --no-browser
"""

from __future__ import annotations

import os

from .common import STDIN, UsageError

DEFAULT_PORT = 8765


def port_arg(text: str) -> int:
    """--port P as an argparse type: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got '{text}'")
    return port


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="the program to open (it may not exist yet: Save creates it); default: LeNet")
    p.add_argument("--port", type=port_arg, default=DEFAULT_PORT, metavar="P",
                   help=f"the port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--no-browser", action="store_true", help="print the address, open no browser")


def _assets_present() -> bool:
    """Whether the page's files were installed with cnnc (the `play` extra's part of it)."""
    from importlib import resources

    try:
        static = resources.files("cnnc.play").joinpath("static")
        return all(static.joinpath(n).is_file() for n in ("index.html", "app.js", "editor.bundle.js"))
    except (ImportError, OSError):
        return False


def run(args) -> int:
    if args.file == STDIN:
        raise UsageError("the playground edits a file: give its name (it may not exist yet), or none for LeNet")
    if not _assets_present():
        raise UsageError("the playground's page is not installed; install it with: pip install 'cnnc[play]'")
    if args.file is not None and os.path.isdir(args.file):
        raise UsageError(f"{args.file} is a folder, not a program")
    if args.file is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.file))):
        raise UsageError(f"cannot open {args.file}: no folder {os.path.dirname(args.file)}")
    from ..play.server import serve
    from ..play.session import Session

    try:
        session = Session(args.file)
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror or e}") from None
    server = serve(session, args.port)
    what = args.file if args.file is not None else "LeNet (examples/lenet.cnn)"
    if args.file is not None and session.on_disk is None:
        what += " (new: Save creates it)"
    print(f"cnnc play: {what} at {server.url}", flush=True)
    print("Open that address in a browser (it holds this session's token); Ctrl-C stops the server.", flush=True)
    if not args.no_browser:
        import webbrowser

        try:
            webbrowser.open(server.url)
        except Exception:   # no browser here: the address is printed
            pass
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("\ncnnc play: stopped", flush=True)
    finally:
        server.server_close()
    return 0
