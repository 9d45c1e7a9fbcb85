"""Tiles of the Triton kernels: what a tile must satisfy to compute the right answer
(`illegal`), what fits an sm_90 GPU (`fits_sm90`), which tiles exist to try
(`candidates`), which one runs when nothing was measured (`default_config`) and which
few a tuner measures first (`shortlist`).

A kernel is described by its geometry, a dict of plain values that the generator
writes into every module (`KERNELS`):

    gemm       the kernel multiplies with tl.dot (a conv, dense, deconv or sepconv anchor)
    gather     how the input is read: "pointwise", "window", "flat", "separable" (with tl.dot),
               "direct" (per-channel windows: depthwise), None (no anchor)
    CIN, K     input channels (of one group) and the reduction length (kh * kw * cin)
    KP, CP     K and C rounded up to K_ALIGN / C_ALIGN: the packed weight matrix is CP x KP
    C          output channels
    FG         a grouped GEMM's output channels per group (a column tile lies in one), else 0
    softmax    a softmax over the channel row is fused: the whole row is one tile
    pool       a max/avg pool is fused: the GEMM is evaluated in its window loop
    adds       residual adds fused (each loads one more BM x BN tile)
    reduce     a globalpool: one program per image loops over its pixels in BM-row steps
    pixels     output pixels per image (rows of the GEMM per image)
    precision  "ieee" or "tf32"

A config is {"BM", "BN", "BK", "num_warps", "num_stages"} (BK is 0 for a kernel without
gemm). This file is carried into generated modules: a tuning record read from disk is
checked by the same `illegal` that chose the candidates.
"""

# --- carried: everything below is inlined into generated modules ---

TILE_KEYS = ("BM", "BN", "BK", "num_warps", "num_stages")

# The tiles a tuner may try, before pruning. BM/BN 16 serve the 16-row dots of tiny
# batches and narrow layers; a fused softmax takes BN = the whole row instead.
TILE_RANGES = {
    "BM": (16, 32, 64, 128, 256),
    "BN": (16, 32, 64, 128, 256),
    "BK": (16, 32, 64, 128),
    "num_warps": (4, 8),
    "num_stages": (2, 3, 4, 5),
}
# The packed weight matrix is padded so that every BN and BK above divides it: the B
# tile is then loaded without a mask.
K_ALIGN = 128
C_ALIGN = 256
# Triton's limit on the elements of one block (triton.language.TRITON_MAX_TENSOR_NUMEL)
MAX_TILE_ELEMENTS = 1 << 20

# sm_90 (H100, H200): 227 KB of shared memory per block and at most 255 registers per
# thread. Whether a tile runs out of registers is judged by three numbers per thread: its
# fp32 accumulators (a residual's tile counts as one more), the elements of the A and B
# tiles it handles, and the rows whose addresses it computes (BM / threads). Each family of
# kernel has a box for them, the largest in which no config of a sweep spilled at the limit
# of 255 registers (ptxas of Triton 3.9, sm_90, image sizes powers of two and not: a 14x14
# image's index arithmetic costs registers a 16x16 one does not). benchmarks/triton_gpu.py
# --sweep compiles every candidate again.
SM90_SHARED_BYTES = 232448
#                (precision, family): accumulators, A/B elements, rows
SM90_BOX = {("tf32", "plain"): (64, 72, 1), ("ieee", "plain"): (32, 64, 1),
            ("tf32", "pool"): (32, 32, 1), ("ieee", "pool"): (16, 24, 1),
            # a fused global pool sums (or maxes) the tile's rows beside the accumulator
            ("tf32", "reduce"): (32, 64, 1), ("ieee", "reduce"): (32, 32, 1),
            # a flat gather's per-element tap arithmetic, repeated in the pool's window loop
            ("tf32", "flat pool"): (16, 24, 1), ("ieee", "flat pool"): (16, 16, 1),
            # the depthwise result accumulates beside the loaded A tile
            ("tf32", "separable"): (32, 128, 2), ("ieee", "separable"): (16, 160, 1),
            # ... and a fused global pool sums the tile's rows beside both
            ("tf32", "separable reduce"): (32, 48, 1), ("ieee", "separable reduce"): (32, 32, 0.5),
            # no tl.dot: each tap loads a BM x BN tile beside the accumulator
            ("tf32", "direct"): (64, 0, 1), ("ieee", "direct"): (64, 0, 1),
            ("tf32", "direct pool"): (8, 0, 1), ("ieee", "direct pool"): (8, 0, 1),
            # no anchor: a plain load (a copy, a lone pool or activation, a standalone prologue)
            ("tf32", "load"): (64, 0, 4), ("ieee", "load"): (64, 0, 4),
            ("tf32", "load pool"): (32, 0, 4), ("ieee", "load pool"): (32, 0, 4)}
# A fused pool evaluates the GEMM inside its window loop: K slices wider than 32 only add
# registers there.
SM90_POOL_BK = 32
# A flat gather's pool (ResNet-50's 7x7 stem on 3 channels, then a 3x3 max pool) pipelined
# over more than two stages spills at 255 registers even with 16x16x16 tiles: its K loop
# sits inside the unrolled window loop.
SM90_FLAT_POOL_STAGES = 2


def _family(geom):
    pool = " pool" if geom["pool"] else ""
    if not geom["gemm"]:
        return ("direct" if geom["gather"] == "direct" else "load") + pool
    if geom["gather"] == "separable" and not pool:
        return "separable reduce" if geom["reduce"] else "separable"
    if not pool:
        return "reduce" if geom["reduce"] else "plain"
    return "flat pool" if geom["gather"] == "flat" else "pool"


def is_pow2(n):
    return isinstance(n, int) and n > 0 and n & (n - 1) == 0


def next_pow2(n, lo=1):
    p = lo
    while p < n:
        p *= 2
    return p


def illegal(geom, cfg):
    """Why `cfg` cannot run `geom`'s kernel correctly, or None when it can.

    These are the rules of correctness, not of speed: every config they allow computes
    the same values (the interpreter tests run several per kind of kernel).
    """
    if not isinstance(cfg, dict) or set(cfg) != set(TILE_KEYS):
        return f"a config has exactly the keys {', '.join(TILE_KEYS)}"
    for k in TILE_KEYS:
        if type(cfg[k]) is not int:
            return f"{k} must be an integer"
    bm, bn, bk = cfg["BM"], cfg["BN"], cfg["BK"]
    if not (is_pow2(bm) and is_pow2(bn)):
        return "BM and BN must be powers of two (tl.arange)"
    if cfg["num_warps"] not in (1, 2, 4, 8, 16):
        return "num_warps must be 1, 2, 4, 8 or 16"
    if not 1 <= cfg["num_stages"] <= 8:
        return "num_stages must be between 1 and 8"
    if bm * bn > MAX_TILE_ELEMENTS:
        return f"a BM x BN tile holds at most {MAX_TILE_ELEMENTS} elements"
    if geom["softmax"] and bn < geom["C"]:
        return f"a fused softmax needs its whole row in one tile: BN >= {geom['C']}"
    if not geom["gemm"]:
        if bk != 0:
            return "BK is 0 for a kernel without a GEMM"
        return None
    if not (is_pow2(bk) and bk >= 16 and bm >= 16 and bn >= 16):
        return "tl.dot needs BM, BN and BK to be powers of two >= 16"
    if geom["KP"] % bk or geom["CP"] % bn:
        return f"BK must divide the packed K ({geom['KP']}) and BN the packed C ({geom['CP']})"
    if geom.get("FG") and geom["FG"] % bn:
        return f"a grouped conv's column tile must lie in one group: BN must divide its {geom['FG']} filters per group"
    if geom["gather"] == "window" and geom["CIN"] % bk:
        # each BK slice must be one tap (kh, kw): its channels contiguous, one border mask
        return f"a window gather's K slice must not straddle two taps: BK must divide Cin ({geom['CIN']})"
    return None


def legal(geom, cfg):
    return illegal(geom, cfg) is None


def sm90_cost(geom, cfg):
    """(shared memory bytes, accumulators, A/B tile elements, rows) per thread: what
    `fits_sm90` compares with its box."""
    threads = 32 * cfg["num_warps"]
    acc = (1 + geom["adds"]) * cfg["BM"] * cfg["BN"] / threads
    rows = cfg["BM"] / threads
    if not geom["gemm"]:
        return 4 * cfg["BM"] * cfg["BN"], acc, 0, rows
    tile_ab = cfg["BM"] * cfg["BK"] + cfg["BK"] * cfg["BN"]
    if geom["gather"] == "separable":
        tile_ab += cfg["BM"] * cfg["BK"]   # the depthwise result accumulates beside the loaded tile
    # a squeeze-and-excitation gate is read as a BM x BK tile (each row's image, the K
    # slice's channels) and pipelined beside A: one more such tile in every stage
    staged = tile_ab + (cfg["BM"] * cfg["BK"] if geom.get("gate") else 0)
    shared = max(4 * staged * cfg["num_stages"], 4 * cfg["BM"] * cfg["BN"])
    return shared, acc, tile_ab / threads, rows


def fits_sm90(geom, cfg):
    if geom["gemm"] and geom["pool"] and cfg["BK"] > SM90_POOL_BK:
        return False
    family = _family(geom)
    if family == "flat pool" and cfg["num_stages"] > SM90_FLAT_POOL_STAGES:
        return False
    shared, acc, operands, rows = sm90_cost(geom, cfg)
    max_acc, max_operands, max_rows = SM90_BOX[(geom["precision"], family)]
    return shared <= SM90_SHARED_BYTES and acc <= max_acc and operands <= max_operands and rows <= max_rows


def _useful(geom, cfg):
    """Tiles no wider than the problem (a 10-channel layer needs no BN of 256)."""
    if geom["softmax"]:
        if cfg["BN"] != max(16 if geom["gemm"] else 1, next_pow2(geom["C"])):
            return False
    elif cfg["BN"] > max(16, next_pow2(geom.get("FG") or geom["C"])):
        return False
    return not geom["gemm"] or cfg["BK"] <= max(16, next_pow2(geom["K"]))


def candidates(geom):
    """Every config worth trying: legal, inside the sm_90 budget, no wider than the
    problem; in a fixed order (generated code and records stay deterministic)."""
    r = TILE_RANGES
    if geom["softmax"]:
        bns = (max(16 if geom["gemm"] else 1, next_pow2(geom["C"])),)
    else:
        bns = r["BN"]
    bms = r["BM"] if geom["gemm"] else (1, 2, 4, 8) + r["BM"]
    bks = r["BK"] if geom["gemm"] else (0,)
    stages = r["num_stages"] if geom["gemm"] or geom["reduce"] else (2,)
    warps = r["num_warps"] + ((16,) if geom["softmax"] and bns[0] >= 512 else ())
    out = []
    for bm in bms:
        for bn in bns:
            for bk in bks:
                for w in warps:
                    for s in stages:
                        cfg = {"BM": bm, "BN": bn, "BK": bk, "num_warps": w, "num_stages": s}
                        if legal(geom, cfg) and fits_sm90(geom, cfg) and _useful(geom, cfg):
                            out.append(cfg)
    return out


def default_config(geom, batch=None):
    """The config a kernel runs with when no tuning record applies (and always under the
    interpreter): 128 x 64 tiles, K slices of 32, 3 stages, 4 warps -- the best fixed tile
    of a sweep on an H200 (VGG and ResNet at batch 256 and 4096) -- with BM no taller than
    the rows of `batch` images (a power of two, >= 16), BN no wider than the channels (a
    softmax: its whole row), then shrunk until it is legal and fits sm_90 (8 warps first,
    then smaller BM, then smaller BK, then fewer stages, then 16 warps)."""
    c = geom["C"]
    floor = 16 if geom["gemm"] else 1
    bn = max(floor, next_pow2(c)) if geom["softmax"] else min(64, max(16, next_pow2(c)))
    while geom.get("FG") and geom["FG"] % bn:
        bn //= 2   # a grouped conv's tile stays in one group
    bm = 128
    if geom["reduce"]:
        bm = min(bm, max(16, next_pow2(geom["pixels"])))
    elif batch is not None:
        bm = min(bm, max(16, next_pow2(batch * geom["pixels"])))
    cfg = {"BM": bm, "BN": bn, "BK": 0, "num_warps": 4, "num_stages": 3 if geom["gemm"] or geom["reduce"] else 2}
    if _family(geom) == "flat pool":   # its stage limit first, not after shrinking every tile
        cfg["num_stages"] = min(cfg["num_stages"], SM90_FLAT_POOL_STAGES)
    if geom["gemm"]:
        bk = min(32, max(16, next_pow2(geom["K"])))
        while geom["gather"] == "window" and geom["CIN"] % bk:
            bk //= 2
        cfg["BK"] = bk
    while not (legal(geom, cfg) and fits_sm90(geom, cfg)):
        if cfg["num_warps"] < 8:
            cfg["num_warps"] = 8
        elif cfg["BM"] > floor:
            cfg["BM"] //= 2
        elif cfg["BK"] > 16:
            cfg["BK"] //= 2
        elif cfg["num_stages"] > 2:
            cfg["num_stages"] -= 1
        elif cfg["num_warps"] < 16:
            cfg["num_warps"] = 16   # a wide fused softmax row: 16 rows x 1024 channels in ieee
        else:
            raise ValueError(f"no legal tile for a kernel of geometry {geom}")
    return cfg


def batch_bucket(n):
    """The batch size a tuning record is kept under: the next power of two (1, 2, 4, ...)."""
    return next_pow2(max(int(n), 1))


# Tiles that measured well on an H200 (a sweep over VGG, ResNet and LeNet at batch 1 to
# 4096): a tuner tries them, narrowed to each kernel, right after the default.
SEEDS = (
    {"BM": 128, "BN": 128, "BK": 32, "num_warps": 8, "num_stages": 3},
    {"BM": 64, "BN": 128, "BK": 32, "num_warps": 4, "num_stages": 3},
    {"BM": 128, "BN": 64, "BK": 32, "num_warps": 4, "num_stages": 2},
)


def _narrowed(geom, cfg):
    """`cfg` made to fit the kernel: BN no wider than its channels (the whole row for a
    softmax), BK a divisor the gather accepts, BK 0 without a GEMM."""
    cfg = dict(cfg)
    if geom["softmax"]:
        cfg["BN"] = max(16 if geom["gemm"] else 1, next_pow2(geom["C"]))
    else:
        cfg["BN"] = min(cfg["BN"], max(16, next_pow2(geom["C"])))
    if not geom["gemm"]:
        cfg["BK"] = 0
        return cfg
    cfg["BK"] = min(cfg["BK"], max(16, next_pow2(geom["K"])))
    while geom["gather"] == "window" and geom["CIN"] % cfg["BK"] and cfg["BK"] > 16:
        cfg["BK"] //= 2
    return cfg


def shortlist(geom, batch, limit):
    """At most `limit` candidates for a tuner to measure at this batch size: the default
    first, then the SEEDS, then the others by a rough model of a tile's cost on a 132-SM
    GPU -- padded work (rows and channels past the problem) over the share of SMs its
    programs fill, against operand reuse (BM x BN / (BM + BN)), plus the latency of a
    serial K loop. The model only orders the list; measurement decides."""
    rows = max(1, batch if geom["reduce"] else batch * geom["pixels"])
    k = geom["K"] if geom["gemm"] else 1

    def cost(cfg):
        bm, bn = cfg["BM"], cfg["BN"]
        tiles_m = 1 if geom["reduce"] else -(-rows // bm)
        tiles_n = -(-geom["C"] // bn)
        programs = tiles_m * tiles_n * (batch if geom["reduce"] else 1)
        padded = (rows if geom["reduce"] else tiles_m * bm) * tiles_n * bn
        waves = -(-programs // 132)
        fill = programs / (waves * 132)
        steps = -(-k // cfg["BK"]) if geom["gemm"] else 1
        return (padded / fill) / (bm * bn / (bm + bn)) + 4.0 * steps * waves

    pool = candidates(geom)
    allowed = {tuple(c[t] for t in TILE_KEYS) for c in pool}
    out, seen, shapes = [], set(), set()

    def take(cfg, one_per_shape=False):
        key = tuple(cfg[t] for t in TILE_KEYS)
        shape = key[:3]
        if len(out) >= limit or key in seen or (one_per_shape and shape in shapes):
            return
        out.append(cfg)
        seen.add(key)
        shapes.add(shape)

    take(default_config(geom, batch))
    for seed in SEEDS:
        cfg = _narrowed(geom, seed)
        if tuple(cfg[t] for t in TILE_KEYS) in allowed:
            take(cfg)
    ranked = sorted(pool, key=lambda c: (cost(c), tuple(c[t] for t in TILE_KEYS)))
    for cfg in ranked:
        take(cfg, one_per_shape=True)   # one pipeline depth per tile shape on the first pass
    for cfg in ranked:
        take(cfg)
    return out
