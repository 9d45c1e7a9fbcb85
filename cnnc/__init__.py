"""cnnc: a compiler for convolutional networks.

    net = cnnc.parse("input 28x28x1; conv 32 3x3 relu; pool 2; flatten; dense 10 softmax")
    net.output_shape                      # (10,)
    model = cnnc.compile(net, backend="numpy", seed=0)

`import cnnc` and `cnnc.parse` load neither numpy, torch nor triton: the front end
(syntax -> graph -> shapes) is pure Python. Even lark is not imported: it generated
the parse tables in cnnc/parse_tables.py.
"""

from __future__ import annotations

from .errors import CnncError, Diagnostic

__all__ = ["CnncError", "Diagnostic", "parse", "parse_file", "compile"]
__version__ = "0.1.0"


def parse(text: str, input=None, filename: str = "<string>"):
    """Parse and shape-check a program; returns a Network or raises CnncError.

    `input=(H, W, C)` supplies (or overrides) the program's `input` statement.
    """
    from .errors import Reporter
    from .graph import build
    from .syntax import parse_program

    report = Reporter(filename)   # syntax errors first, then the graph's: all reported together
    program = parse_program(text, filename, report)
    if program is None:
        report.raise_if_errors()
    return build(program, input_shape=input, report=report)


def parse_file(path, input=None):
    """`parse` the program in `path`; errors name the file."""
    import os

    from .binary_files import program_text
    from .limits import MAX_PROGRAM_BYTES
    from .backends.carried.safe_files import read_regular   # not runtime.files: tempfile

    try:
        text = program_text(read_regular(path, MAX_PROGRAM_BYTES))
    except (OSError, ValueError) as e:
        raise CnncError(f"cannot read {os.fspath(path)}: {getattr(e, 'strerror', None) or e}", 1, 1,
                        os.fspath(path)) from None
    return parse(text, input=input, filename=os.fspath(path))


def compile(source, backend: str = "numpy", seed: int = 0, weights=None, input=None, **options):
    """Compile a program (a path, or a Network from `parse`) into a runnable Model.

    Weights, the first that applies: `weights` (a path or a mapping); for a path, the
    program's own STEM.npz or STEM.safetensors beside it (both: an error naming both);
    fresh initial weights from `seed`. `model.weights_source` says which."""
    from .runtime.model import compile_model

    return compile_model(source, backend=backend, seed=seed, weights=weights, input=input, **options)
