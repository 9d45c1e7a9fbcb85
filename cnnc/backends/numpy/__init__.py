"""The numpy backend: the reference. Generates a self-contained Python module.

The module needs only numpy (it never imports cnnc) and holds, in this order:
constants (INPUT_SHAPE, OUTPUT_SHAPE, WEIGHTS_EXT, the PARAMS table), the array helpers
every module carries (carried/numpy_ops.py), one function per *distinct* step of
`forward` (`layer_*` for a layer or fused group, `view_*` for a view) and per distinct
way of preparing a group's weights (`prepare_*`: folds batchnorm, reshapes kernels),
the tables PREPARES and STEPS that say which step uses which, `prepare(params)` and
`forward`, which walk those tables (carried/numpy_model.py), and the weights reader
(cnnc/backends/carried/weights_io.py) and `Model` (carried/numpy_model.py) with
`load(path=None)`. Steps whose code is the same but for names (a `repeat`, identical
branches) share one function, and what grows with the network is table rows, not code
(cnnc/backends/carried/tables.py), so a 100,000-layer program compiles
in linear time and a few hundred megabytes (BENCHMARKS.md, "compile scaling").

Fused groups come from the shared planner (passes/fusion.py) under `NumpyPolicy`,
which says what one numpy function can absorb: a batchnorm it can fold
(passes/fold.py), activation layers, for a conv one max pool, and for an anchor a
residual add. Each kind is computed by its entry in LOWERINGS (one per keyword): the
group's head emits the code that makes `y`, every absorbed node an in-place step on
it. The anchors on images (conv, dwconv, sepconv, deconv: ChunkedAnchor) run over the
batch in chunks small enough for their working arrays (the im2col matrix, the
depthwise taps, the col2im buffer) to stay in cache; within a chunk a conv's max pool
is taken *before* the bias and activation when these are monotone per channel (max
commutes with them), which is exact and four times cheaper for a 2x2 pool. Views
(flatten, dropout) are a one-line function (a reshape, the input itself).

Layout: NHWC float32; kernels in Keras layout (KH, KW, Cin, Cout), flattened to
(KH*KW*Cin, Cout) so an im2col row (i, j, c) meets the matching weight; every anchor's
prepared matrix has its output channel last, so a batchnorm folds into it alike.

Files: policy.py (NumpyPolicy, the groups, what a group's function holds, BLAS threads),
group.py (a group's parts), lowering.py (the Lowering interface) with the LOWERINGS
table in lowerings.py gathering anchors.py (conv, dwconv, sepconv, deconv, dense),
pointwise.py (affine maps, layernorm, rescale, activations), spatial.py (crop, zeropad,
upsample, pools, views) and joins.py (scale, multiply, residual, add, concat); scratch.py
(the bytes the generated code allocates), module.py (the module's text), carried/ (the
code only numpy modules carry; what every backend's modules carry is in
cnnc/backends/carried/).
"""

from __future__ import annotations

from .lowerings import LOWERINGS
from .module import WEIGHTS_EXT, generate

__all__ = ["LOWERINGS", "WEIGHTS_EXT", "generate"]
