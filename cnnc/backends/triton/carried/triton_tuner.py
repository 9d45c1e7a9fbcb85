"""Which config each kernel of a generated Triton module runs with, per batch size:
a forced choice (`use_tiles`), a tuning record for this card and Triton version, a
measurement made now (`tune_missing`), or the documented default -- and the tuner
that measures.

Tuning records are JSON files (the one beside a module, `cnnc tune` writes it; the
per-user cache). They are read like any input: size-limited, parsed as JSON, every
entry checked for its structure and its config by the tile rules (`illegal`,
`fits_sm90`) before use; entries that fail are ignored with a warning, never trusted.
Records are only ever read on a GPU; under the interpreter the default config runs.
"""

import json
import os
import time
import warnings

import torch
import triton

from ...carried.safe_files import read_regular
from .triton_tiles import batch_bucket, default_config, fits_sm90, illegal, shortlist

# --- carried: everything below is inlined into generated modules ---

RECORD_FORMAT = "cnnc-triton-tuning"
RECORD_VERSION = 1
RECORD_MAX_BYTES = 16 << 20
# row tiles per group of the grouped program order (kernel parameter GROUP_M)
GROUP_M = 8
# Multiply-adds contracted to FMAs, said explicitly: Triton 3.6 and 3.9 default to it (3.9
# warns that the default is unset; 3.10 turns it off), and the same kernels must round alike
# on every Triton a module meets.
FP_FUSION = True


def user_cache_path():
    """The per-user tuning cache: $CNNC_CACHE_DIR, else $XDG_CACHE_HOME/cnnc, else ~/.cache/cnnc."""
    folder = os.environ.get("CNNC_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "cnnc")
    return os.path.join(folder, "triton-tuning.json")


def entry_problem(entry):
    """Why a record entry is malformed (its structure, not its config), or None."""
    if not isinstance(entry, dict):
        return "an entry is not an object"
    for field, kind in (("card", str), ("triton", str), ("kernel", str), ("batch", int), ("config", dict)):
        if type(entry.get(field)) is not kind:
            return f"field {field!r} is missing or not a {kind.__name__}"
    if entry["batch"] < 1 or entry["batch"] & (entry["batch"] - 1):
        return "field 'batch' is not a power of two"
    seconds = entry.get("seconds")
    if seconds is not None and (type(seconds) not in (int, float) or not 0 <= seconds < 1e6):
        return "field 'seconds' is not a time in seconds"
    if set(entry) - {"card", "triton", "kernel", "batch", "config", "seconds", "name"}:
        return f"unknown fields {sorted(set(entry) - {'card', 'triton', 'kernel', 'batch', 'config', 'seconds', 'name'})}"
    return None


def read_record(path):
    """(entries, problem): a tuning record's well-formed entries, and why the file or some
    entries were not usable (None when all was well or the file does not exist)."""
    try:  # a regular file, read with a bound: a FIFO or /dev/zero is refused unread
        text = read_regular(path, RECORD_MAX_BYTES)
    except FileNotFoundError:
        return [], None
    except OSError as e:
        return [], f"{path}: {e.strerror or e}, ignored"
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return [], f"{path}: not a readable JSON tuning record ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})"
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return [], f"{path}: not a cnnc tuning record (no \"format\": \"{RECORD_FORMAT}\")"
    if data.get("version") != RECORD_VERSION:
        return [], f"{path}: tuning record version {data.get('version')!r}, this module reads {RECORD_VERSION}"
    entries = data.get("entries")
    if not isinstance(entries, list):
        return [], f"{path}: \"entries\" is not a list"
    good, bad = [], []
    for entry in entries:
        why = entry_problem(entry)
        if why is None:
            good.append(entry)
        else:
            bad.append(why)
    return good, (f"{path}: {len(bad)} malformed entries ignored (first: {bad[0]})" if bad else None)


def config_problem(geom, cfg):
    """Why a config read from a record must not run this kernel, or None."""
    why = illegal(geom, cfg)
    if why is None and not fits_sm90(geom, cfg):
        why = "outside the sm_90 shared-memory/register budget"
    return why


class TileChoice:
    """Configs per batch size for the kernels of one module (kept in its state).

    Order of precedence: `forced` (use_tiles), a record for this card and Triton version
    (the nearest batch bucket recorded), a measurement made on first use when
    `tune_missing`, else `default_config`. `describe(n)` says which, per kernel.
    """

    def __init__(self, kernels, keys, files):
        self.kernels, self.keys, self.files = kernels, keys, list(files)
        self.forced = {}
        self.tune_missing = False
        self.tuned = {}         # (key, bucket) -> config measured in this process
        self.by_batch = {}      # n -> {name: config}
        self.sources = {}       # n -> {name: where the config came from}
        self._records = None    # (key, bucket) -> (config, file), read on first use on a GPU

    def card(self):
        """The device tuning records are matched against; None under the interpreter."""
        if not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
            return None
        return torch.cuda.get_device_name()

    def records(self):
        if self._records is None:
            self._records = {}
            card = self.card()
            if card is not None:
                self._records = self.read(card, triton.__version__)
        return self._records

    def read(self, card, triton_version):
        """(key, bucket) -> (config, file) for this card and Triton version, from every file;
        an earlier file wins. Problems are warnings; nothing unchecked is kept."""
        found, problems = {}, []
        keys = {}
        for name, key in self.keys.items():
            keys.setdefault(key, name)
        for path in self.files:
            entries, problem = read_record(path)
            if problem:
                problems.append(problem)
            for entry in entries:
                if entry["card"] != card or entry["triton"] != triton_version or entry["kernel"] not in keys:
                    continue
                name = keys[entry["kernel"]]
                why = config_problem(self.kernels[name], entry["config"])
                if why is not None:
                    problems.append(f"{path}: the config recorded for {name} at batch {entry['batch']} "
                                    f"is ignored: {why}")
                    continue
                found.setdefault((entry["kernel"], entry["batch"]), (dict(entry["config"]), path))
        for p in problems:
            warnings.warn(f"cnnc tuning record: {p}", stacklevel=3)
        return found

    def lookup(self, key, n):
        """(config, where) recorded for `key` at the batch bucket nearest n (log scale), or None."""
        want = batch_bucket(n)
        best = None
        for (k, b), (cfg, path) in self.records().items():
            if k != key:
                continue
            rank = (abs(b.bit_length() - want.bit_length()), -b)
            if best is None or rank < best[0]:
                best = (rank, cfg, f"record {path} (batch {b})")
        return None if best is None else (best[1], best[2])

    def configs(self, n):
        """{kernel name: config} for batch size n (resolved once per n)."""
        got = self.by_batch.get(n)
        if got is not None:
            return got
        got, where = {}, {}
        for name, geom in self.kernels.items():
            key = self.keys[name]
            if name in self.forced:
                got[name], where[name] = self.forced[name], "forced (use_tiles)"
                continue
            if (key, batch_bucket(n)) in self.tuned:
                got[name], where[name] = self.tuned[(key, batch_bucket(n))], "measured in this process"
                continue
            found = self.lookup(key, n)
            if found is not None:
                got[name], where[name] = found
            else:
                got[name], where[name] = default_config(geom, n), "default"
        self.by_batch[n], self.sources[n] = got, where
        return got

    def describe(self, n):
        """{kernel name: (config, where it came from)} at batch size n."""
        configs = self.configs(n)
        return {name: (configs[name], self.sources[n][name]) for name in configs}

    def missing(self, n):
        """Kernels that run the default config at batch n although a GPU is there to measure."""
        self.configs(n)
        if self.card() is None:
            return []
        return [name for name, where in self.sources[n].items() if where == "default"]

    def forget(self):
        self.by_batch, self.sources = {}, {}


def use_tiles(state, mapping):
    """Run kernel `name` with config `mapping[name]` at every batch size (checked by the tile
    rules; ValueError when a config is not legal for its kernel). Graphs are re-captured."""
    tiles = state["tiles"]
    for name, cfg in mapping.items():
        if name not in tiles.kernels:
            raise ValueError(f"no kernel {name!r} in this module (it has {', '.join(list(tiles.kernels)[:4])}, ...)")
        why = illegal(tiles.kernels[name], cfg)
        if why is not None:
            raise ValueError(f"{name}: config {cfg} cannot run this kernel: {why}")
    tiles.forced.update({name: dict(cfg) for name, cfg in mapping.items()})
    tiles.forget()
    state["graphs"].clear()


def launch_config(kernel, cfg, rows, cols, args, consts, gemm, per_image):
    """One launch of `kernel` with the tiles of `cfg`: the grid follows from them."""
    tiles_n = -(-cols // cfg["BN"])
    tile = {"BM": cfg["BM"], "BN": cfg["BN"]}
    if gemm:
        tile["BK"] = cfg["BK"]
    if per_image:
        grid = (rows, tiles_n)
    else:
        grid = (-(-rows // cfg["BM"]) * tiles_n,)
        tile["GROUP_M"] = GROUP_M
    return kernel[grid](*args, **consts, **tile, num_warps=cfg["num_warps"], num_stages=cfg["num_stages"],
                        enable_fp_fusion=FP_FUSION)


def launch(tiles, name, kernel, rows, cols, args, consts, gemm, per_image):
    """The launch of kernel `name`: with its config from `tiles`, or through a tuner."""
    if type(tiles) is dict:
        launch_config(kernel, tiles[name], rows, cols, args, consts, gemm, per_image)
    else:
        tiles.launch(name, kernel, rows, cols, args, consts, gemm, per_image)


def cuda_seconds(fn, reps):
    """Seconds per call of `fn` on the GPU: `reps` calls captured in a CUDA graph (no launch
    gaps, as in the module's own graphs), the median of three replays."""
    fn()                                  # compiles (outside any capture)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(side):
        fn()
        with torch.cuda.graph(graph, stream=side):
            for _ in range(reps):
                fn()
    torch.cuda.current_stream().wait_stream(side)
    graph.replay()
    times = []
    for _ in range(3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / reps)
    return sorted(times)[1]


class Tuner:
    """Stands in for the config table while `_run` executes: each kernel, on its real
    inputs, is timed under up to `limit` shortlisted configs and then run with the
    fastest, so the kernels after it read correct values. Kernels with the same key
    (same code and geometry) are measured once."""

    def __init__(self, choice, batch, limit, reps, deadline, measure=cuda_seconds, measured=None):
        self.choice, self.batch, self.limit, self.reps = choice, batch, limit, reps
        self.deadline, self.measure = deadline, measure
        self.best = {}        # key -> (config, seconds)
        self.measured = {} if measured is None else measured   # key -> [(config, seconds)], in order
        self.entries = []
        self.failures = []

    def launch(self, name, kernel, rows, cols, args, consts, gemm, per_image):
        key = self.choice.keys[name]
        if key not in self.best:
            geom = self.choice.kernels[name]
            best = None
            for cfg in shortlist(geom, self.batch, self.limit):
                if best is not None and self.deadline is not None and time.perf_counter() > self.deadline:
                    break
                def run_once(cfg=cfg):
                    return launch_config(kernel, cfg, rows, cols, args, consts, gemm, per_image)
                run_once.config = cfg
                try:
                    # this Triton's ptxas may spill where the sm_90 budget expected none: skip those
                    spills = getattr(run_once(), "n_spills", 0) or 0
                    if spills:
                        self.failures.append((name, cfg, f"spills {spills} registers"))
                        continue
                    t = self.measure(run_once, self.reps)
                except Exception as e:   # a config the compiler rejects on this card is skipped, and said
                    self.failures.append((name, cfg, f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"))
                    continue
                self.measured.setdefault(key, []).append((cfg, t))
                if best is None or t < best[1]:
                    best = (cfg, t)
            if best is None:
                raise RuntimeError(f"{name}: no config could be measured ({self.failures[-1][2]})")
            self.best[key] = best
        cfg, seconds = self.best[key]
        launch_config(kernel, cfg, rows, cols, args, consts, gemm, per_image)
        self.entries.append({"card": self.choice.card(), "triton": triton.__version__, "kernel": key,
                             "batch": batch_bucket(self.batch), "config": dict(cfg), "seconds": seconds,
                             "name": name})


def tune_run(run, state, x, input_shape, limit=8, reps=20, budget_s=None, measure=cuda_seconds, measured=None):
    """Tune every kernel of a module at x's batch size (see the module's `tune`); `measured`
    (a dict) receives every time taken: kernel key -> [(config, seconds)]."""
    choice = state["tiles"]
    if choice.card() is None:
        raise RuntimeError("tuning measures kernels on a CUDA GPU; under Triton's interpreter the "
                           "default config runs")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(f"expected a tensor of shape (N, {', '.join(map(str, input_shape))})")
    x = x.to("cuda", torch.float32).contiguous()
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    tuner = Tuner(choice, x.shape[0], limit, reps, deadline, measure, measured)
    with torch.no_grad():
        run(state, x, None, None, tuner)
    torch.cuda.synchronize()
    bucket = batch_bucket(x.shape[0])
    for entry in tuner.entries:
        choice.tuned[(entry["kernel"], bucket)] = entry["config"]
    choice.forget()
    state["graphs"].clear()
    for name, cfg, why in tuner.failures:
        warnings.warn(f"cnnc tune: {name} {cfg} was skipped on this GPU: {why}", stacklevel=2)
    return tuner.entries
