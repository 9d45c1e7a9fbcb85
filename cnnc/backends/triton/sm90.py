"""Compiling the kernels for a GPU that is not there: Triton's compiler down to ptxas,
and what the cubin says about registers and spills. Used by the tests (every sampled
config compiles without spills) and by `benchmarks/triton_gpu.py --ptxas / --sweep`."""

from __future__ import annotations

import linecache
import os
import re
import subprocess
import tempfile

from .carried.triton_tuner import FP_FUSION, GROUP_M
from ..emitter import Emitter
from .template import emit_kernel, emit_reducers


def _jit_functions(kernels) -> dict:
    """The kernels as real (not interpreted) JITFunctions, whatever this process runs on."""
    e = Emitter()
    e.lines("import triton", "import triton.language as tl", "")
    emit_reducers(e)
    e.line("")
    for k in kernels:
        emit_kernel(k, e)
        e.line("")
    src = e.source()
    fake = f"<cnnc triton kernels {len(src)}:{hash(src)}>"
    linecache.cache[fake] = (len(src), None, src.splitlines(True), fake)
    saved = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "0"
    try:
        ns: dict = {"__name__": "cnnc_triton_kernels"}
        exec(compile(src, fake, "exec"), ns)
    finally:
        if saved is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = saved
    return ns


def compile_kernel(fn, k, cfg: dict, arch: int = 90):
    """One kernel compiled with config `cfg` for compute capability `arch`."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    consts = dict(k.constexprs())
    tile = {"BM": cfg["BM"], "BN": cfg["BN"], "BK": cfg["BK"], "GROUP_M": GROUP_M}
    consts.update({t: tile[t] for t in k.tile_params()})
    sig = {a: "constexpr" if a in consts else "i32" if a == "NB" else "*fp32" for a in fn.arg_names}
    where = {(fn.arg_names.index(a),): v for a, v in consts.items()}
    # as a launch on a GPU specialises them: torch's buffers start 256-byte aligned
    aligned = {(i,): [["tt.divisibility", 16]] for i, a in enumerate(fn.arg_names) if sig[a] == "*fp32"}
    return triton.compile(ASTSource(fn, sig, constexprs=where, attrs=aligned), target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": cfg["num_warps"], "num_stages": cfg["num_stages"],
                                   "enable_fp_fusion": FP_FUSION})


def compile_for_gpu(net, precision: str = "tf32", arch: int = 90, configs=None) -> list:
    """Compile every kernel of `net` for a CUDA GPU of compute capability `arch` (90: H100,
    H200), with no GPU needed. `configs(name, geometry)` -> the configs to compile (default:
    each kernel's default config).

    Returns [(kernel name, group description, config, triton CompiledKernel)]: its .asm holds
    "ptx" and "cubin", its .metadata the shared memory and warps.
    """
    from .carried.triton_tiles import default_config
    from . import plan_kernels

    _, kernels, _ = plan_kernels(net, precision)
    ns = _jit_functions(kernels)
    out = []
    for k in kernels:
        geom = k.geometry()
        for cfg in (configs(k.name, geom) if configs is not None else [default_config(geom)]):
            out.append((k.name, k.g.describe(), cfg, compile_kernel(ns[k.name], k, cfg, arch)))
    return out


def resource_usage(compiled) -> "dict | None":
    """{"registers": per thread, "stack": bytes (register spills)} of a compiled kernel,
    read by the cuobjdump that ships with Triton; None when it is not installed."""
    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    if not os.path.exists(tool):
        return None
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "kernel.cubin")
        with open(path, "wb") as f:
            f.write(compiled.asm["cubin"])
        out = subprocess.run([tool, "-res-usage", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"REG:(\d+) STACK:(\d+)", out)
    return {"registers": int(m.group(1)), "stack": int(m.group(2))} if m else None


def kernel_class(k) -> tuple:
    """What decides a kernel's register and shared-memory needs besides its tile: the
    gather, the fused pool and reduction, a fused softmax, the epilogue's extra loads."""
    from ...layers import Epilogue

    affine = sum(1 for n in k.pre + k.post if n.spec.epilogue is Epilogue.AFFINE)
    return (k.gather or "load", k.pool.spec.reduce if k.pool is not None else None, k.reduce, k.reduce_max,
            k.softmax, len(k.added()), affine, k.transposed, k.grouped, (k.DH, k.DW) != (1, 1),
            tuple(m.op for m in k.maps), k.gate_image, k.precision)


def kernel_classes(nets, precision: str) -> dict:
    """{kernel_class: (kernel, JITFunction)}: one representative kernel (the first met) of
    each class among the networks' kernels."""
    from . import plan_kernels

    out: dict = {}
    for net in nets:
        _, kernels, _ = plan_kernels(net, precision)
        ns = None
        for k in kernels:
            cls = kernel_class(k)
            if cls not in out:
                ns = ns or _jit_functions(kernels)
                out[cls] = (k, ns[k.name])
    return out
