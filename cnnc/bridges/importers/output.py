"""What every importer gives back: the refusal that lists everything it cannot say, and the
program with its weights beside it, written the one way (the weights first, each atomically)."""

from __future__ import annotations

import os

from ...errors import CnncError


class Unconvertible(CnncError):
    """Parts of a model cnnc cannot say: `problems`, every one of them, each a line of the
    message; `what` names them in the source's terms ("Keras layer(s)", "ONNX node(s)")."""

    def __init__(self, path, problems, what: str, source: str):
        self.problems = list(problems)
        lines = [f"{path}: {len(self.problems)} {what} cannot be written in cnnc's language "
                 f"(nothing was written):"] + [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines), 0, 0, source)

    def __str__(self) -> str:
        return self.message


def weights_beside(out) -> str:
    """NET.npz for the program NET.cnn."""
    return os.path.splitext(os.fspath(out))[0] + ".npz"


def write_files(text, params, out) -> str:
    """Write `params` as NET.npz beside the program `out`, then the program: each atomically,
    the weights first (a kill never leaves a program without its weights). Returns the weights' path."""
    import numpy as np

    from ...runtime import files
    from ...runtime.npz import write_npz

    weights = weights_beside(out)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}

    def weights_file(tmp):
        write_npz(tmp, arrays)

    def program(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    files.write_together([(weights, weights_file), (out, program)])
    return weights
