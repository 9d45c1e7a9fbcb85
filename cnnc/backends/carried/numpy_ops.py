"""Array helpers that every module of the numpy backend carries: padding, im2col
convolution, pooling, batchnorm folding. NHWC float32 throughout."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

# --- carried: everything below is inlined into generated modules ---
def _pad(x, top, bottom, left, right, value=0.0):
    """x (N, H, W, C) with `value` rows/columns added around it."""
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + top + bottom, w + left + right, c), value, np.float32)
    out[:, top:top + h, left:left + w, :] = x
    return out


def _tap(x, i, j, sh, sw, oh, ow):
    """The (oh, ow) pixels that window offset (i, j) sees: a strided view, no copy."""
    return x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def _conv(x, w, kh, kw, sh, sw, oh, ow, top=0, left=0):
    """Convolution of padded x (N, H, W, C) with w (KH*KW*C, F): im2col, then one GEMM.

    Output pixel (a, b) is the window whose corner is x[top + a*sh, left + b*sw].
    """
    n, c = x.shape[0], x.shape[3]
    x = x[:, top:, left:]
    if kh == kw == 1:
        cols = _tap(x, 0, 0, sh, sw, oh, ow).reshape(n * oh * ow, c)
    elif c == 1:
        # one channel: gather the taps as rows (K, M), contiguous writes; BLAS takes the transpose
        cols = np.empty((kh * kw, n, oh, ow), np.float32)
        for i in range(kh):
            for j in range(kw):
                cols[i * kw + j] = _tap(x, i, j, sh, sw, oh, ow)[..., 0]
        cols = cols.reshape(kh * kw, n * oh * ow).T
    else:
        # im2col one kernel row at a time: the kw*c values under kernel row i are
        # contiguous in x, so each output pixel copies one run of kw*c floats
        if x.strides[2] != c * x.itemsize or x.strides[3] != x.itemsize:
            x = np.ascontiguousarray(x)
        s0, s1, s2, s3 = x.strides
        cols = np.empty((n, oh, ow, kh, kw * c), np.float32)
        for i in range(kh):
            cols[:, :, :, i] = as_strided(x[:, i:], (n, oh, ow, kw * c), (s0, s1 * sh, s2 * sw, s3))
        cols = cols.reshape(n * oh * ow, kh * kw * c)
    return (cols @ w).reshape(n, oh, ow, w.shape[1])


_ZERO_ROWS = {}


def _relu(y):
    """max(y, 0) in place, against a zero row as long as an image row: numpy
    vectorizes that, and not a broadcast scalar 0."""
    r = y.reshape(-1, y.shape[-1] * (y.shape[-2] if y.ndim == 4 else 1))
    z = _ZERO_ROWS.get(r.shape[1])
    if z is None:
        z = _ZERO_ROWS[r.shape[1]] = np.zeros(r.shape[1], np.float32)
    np.maximum(r, z, out=r)


def _maxpool(x, kh, kw, sh, sw, oh, ow):
    """Max over the windows of x (padded with -inf): np.maximum over strided views."""
    out = _tap(x, 0, 0, sh, sw, oh, ow).copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                np.maximum(out, _tap(x, i, j, sh, sw, oh, ow), out=out)
    return out


def _sumpool(x, kh, kw, sh, sw, oh, ow):
    """Sum over the windows of x (padded with zeros)."""
    out = _tap(x, 0, 0, sh, sw, oh, ow).copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                out += _tap(x, i, j, sh, sw, oh, ow)
    return out


def _real_counts(n, k, s, lo, out):
    """How many real (not padding) pixels each window holds along one axis."""
    start = np.arange(out) * s - lo
    return (np.minimum(start + k, n) - np.maximum(start, 0)).astype(np.float32)


def _fold(kernel, bias, gamma, beta, mean, var, eps):
    """Batchnorm after a conv/dense, folded into its kernel and bias (in float64)."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    k = kernel.astype(np.float64) * scale
    b = (bias.astype(np.float64) - mean) * scale + beta
    return k.astype(np.float32), b.astype(np.float32)


def _affine(gamma, beta, mean, var, eps):
    """Batchnorm on its own as x * scale + shift."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _sigmoid(y):
    """1 / (1 + exp(-y)) as (1 + tanh(y / 2)) / 2: no overflow for any y; a new array."""
    s = np.tanh(y * np.float32(0.5))
    s += np.float32(1.0)
    s *= np.float32(0.5)
    return s


def _erfc(x):
    """erfc of a float64 array, to a relative error below 1.2e-7 everywhere (Numerical
    Recipes' Chebyshev fit); numpy has no erf, and gelu needs it."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(poly)
    return np.where(x >= 0, r, 2.0 - r)


def _gelu(y):
    """Exact gelu in place: x * Phi(x) = x/2 * erfc(-x / sqrt 2), computed in float64."""
    x = y.astype(np.float64)
    y[...] = 0.5 * x * _erfc(x * -0.7071067811865476)
