"""One playground's state: the program file it opened, where the feature maps' weights come
from, the compiled models it keeps, the weights trained by the Train button, and Save.

Weights, first match wins (as `cnnc compile FILE` and `cnnc.compile(path)` take them):
weights trained here while the program keeps their names and shapes; the program's own
STEM.npz or STEM.safetensors beside FILE (runtime/weight_source.py; both present: an error
naming both) when they fit the program as it is now; else fresh weights from seed 0, and
the page says "seeded" and why.

Save writes the program text, nothing else, atomically (runtime/files.py). It replaces
only the file the playground opened, and only while that file still holds what was read
(or last saved): a file changed on disk in between is not clobbered. Without a file, or to
save under another name, the name must be new: a file that exists is never replaced.
"""

from __future__ import annotations

import hashlib
import os
import threading

from ..errors import UsageError, WeightsError

SEED = 0
MODELS_KEPT = 3
MAX_PROGRAM_BYTES = 4 << 20     # a 100,001-layer program (the language's limit + 1) is 0.6 MB
UMASK = os.umask(0o022)         # read once, at import (umask can only be read by setting it)
os.umask(UMASK)


def lenet_text() -> str:
    """The course notes' LeNet, what the playground opens without a file."""
    from importlib import resources

    return resources.files("cnnc.play").joinpath("static", "lenet.cnn").read_text(encoding="utf-8")


def _digest(data: "bytes | None") -> "str | None":
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path) -> "bytes | None":
    """The file's bytes, None when there is none; OSError for anything else."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_PROGRAM_BYTES + 1)
    except FileNotFoundError:
        return None


class Session:
    def __init__(self, path: "str | None" = None):
        """`path`: the program to open (it may not exist yet: Save creates it); None for LeNet."""
        from ..binary_files import program_text

        self.lock = threading.Lock()
        self.path = os.path.abspath(path) if path is not None else None
        self.shown_name = path
        self.folder = os.path.dirname(self.path) if self.path else os.getcwd()
        self.trained = None        # (param shapes, params, what) from the Train button
        self.models: list = []     # [(key, model)], most recent last
        if self.path is None:
            self.text, self.on_disk = lenet_text(), None
            return
        if os.path.isdir(self.path):
            raise UsageError(f"{path} is a folder, not a program")
        data = _read(self.path)
        if data is not None and len(data) > MAX_PROGRAM_BYTES:
            raise UsageError(f"{path}: larger than {MAX_PROGRAM_BYTES:,} bytes; not a program the playground opens")
        try:
            self.text = lenet_text() if data is None else program_text(data)
        except ValueError as e:
            raise UsageError(f"cannot read {path}: {e}") from None
        self.on_disk = _digest(data)

    @property
    def filename(self) -> str:
        """How diagnostics name the program."""
        return os.path.basename(self.shown_name) if self.shown_name else "lenet.cnn"

    # -- weights -----------------------------------------------------------------
    def weights_for(self, net) -> tuple:
        """(params or None for seeded, key for the model cache, {"kind", "text"}) for `net`."""
        from ..runtime import weights as W
        from ..runtime.weight_source import one_beside

        shapes = net.param_shapes()
        trained = self.trained
        if trained is not None and trained[0] == shapes:
            return trained[1], ("trained", id(trained[1])), {"kind": "trained", "text": trained[2]}
        why = "no program file is open"
        if self.path is not None:
            name = os.path.basename(self.path)
            try:
                beside = one_beside(self.path, f"the program {name}")
            except WeightsError as e:
                beside, why = None, str(e)
            if beside is not None:
                try:
                    st = os.stat(beside)
                    params = W.read_file(beside, shapes)
                    return params, ("file", beside, st.st_mtime_ns, st.st_size), \
                        {"kind": "file", "text": f"the weights in {os.path.basename(beside)}"}
                except (WeightsError, OSError) as e:
                    why = f"{os.path.basename(beside)} does not fit the program as it is now ({e})"
            elif why == "no program file is open":
                stem = os.path.splitext(name)[0]
                why = f"no {stem}.npz or {stem}.safetensors beside {name}"
        return None, ("seeded", SEED), {"kind": "seeded", "text": f"seeded (seed {SEED}): {why}"}

    def model_for(self, net, text: str, input_shape):
        """The numpy model of `net` with its weights (weights_for), compiled once per program
        and weights; returns (model, weights info)."""
        from ..runtime.model import compile_model

        params, wkey, info = self.weights_for(net)
        key = (text, tuple(input_shape) if input_shape else None, wkey)
        with self.lock:
            for k, m in self.models:
                if k == key:
                    return m, info
        model = compile_model(net, backend="numpy", seed=SEED, weights=params)
        with self.lock:
            self.models = [(k, m) for k, m in self.models if k != key][-(MODELS_KEPT - 1):] + [(key, model)]
        return model, info

    def keep_trained(self, model, accuracy: float, epochs: int) -> None:
        params = {k: v.copy() for k, v in model.params.items()}
        what = f"trained here: {epochs} epochs on the digits, test accuracy {accuracy:.1%}"
        with self.lock:
            self.trained = (model.network.param_shapes(), params, what)

    # -- save --------------------------------------------------------------------
    def save(self, text: str, name: "str | None" = None) -> str:
        """Write the program; returns the path written. UsageError says why not."""
        from ..runtime import files

        data = text.encode("utf-8")
        if len(data) > MAX_PROGRAM_BYTES:
            raise UsageError(f"the program is larger than {MAX_PROGRAM_BYTES:,} bytes")
        with self.lock:
            if name is None or (self.path is not None and self._resolve(name) == self.path):
                if self.path is None:
                    raise UsageError("no file is open: give the new file's name (it must not exist yet)")
                current = _digest(_read(self.path))
                if current != self.on_disk:
                    raise UsageError(f"{self.shown_name} changed on disk since the playground "
                                     + ("opened it" if self.on_disk else "started (it did not exist)")
                                     + "; refusing to overwrite it: save under a new name")
                if self.on_disk is None:
                    _create(self.path, data)
                else:
                    files.write_atomic(self.path, lambda tmp: _write(tmp, data))
                self.on_disk = _digest(data)
                return self.path
            path = self._resolve(name)
            _create(path, data)
            self.path, self.shown_name, self.on_disk = path, os.path.relpath(path), _digest(data)
            return path

    def _resolve(self, name: str) -> str:
        """A new file's name: NAME.cnn inside the playground's folder (sub-folders allowed)."""
        if not isinstance(name, str) or not name or "\0" in name or len(name) > 255:
            raise UsageError("the file name is empty or not a name")
        if not name.endswith(".cnn") or os.path.basename(name) == ".cnn":
            raise UsageError(f"'{name[:100]}': a program's name ends in .cnn")
        if os.path.isabs(name):
            raise UsageError(f"'{name[:100]}': give a name inside {self.folder}, not an absolute path")
        path = os.path.abspath(os.path.join(self.folder, name))
        if os.path.commonpath([os.path.realpath(self.folder), os.path.realpath(os.path.dirname(path))]) \
                != os.path.realpath(self.folder):
            raise UsageError(f"'{name[:100]}' leads out of {self.folder}")
        if not os.path.isdir(os.path.dirname(path)):
            raise UsageError(f"'{name[:100]}': no folder {os.path.dirname(name)}")
        return path


def _write(tmp: str, data: bytes) -> None:
    with open(tmp, "wb") as f:
        f.write(data)


def _create(path: str, data: bytes) -> None:
    """Write a new file atomically, never replacing one: the text goes to a temporary file
    that is then hard-linked to `path` (which fails when `path` exists)."""
    import tempfile

    if os.path.lexists(path):
        raise UsageError(f"{os.path.basename(path)} exists; the playground never replaces a file it did not open")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path))
    os.close(fd)
    try:
        _write(tmp, data)
        os.chmod(tmp, 0o666 & ~UMASK)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise UsageError(f"{os.path.basename(path)} exists; the playground never replaces a file it did "
                             f"not open") from None
    finally:
        try:
            os.remove(tmp)
        except OSError:
            pass
