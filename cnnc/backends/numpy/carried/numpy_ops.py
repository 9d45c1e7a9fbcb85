"""Array helpers that every module of the numpy backend carries: padding, im2col
convolution (dilated and grouped too), depthwise and transposed convolution,
upsampling, pooling, batchnorm folding. NHWC float32 throughout."""

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


def _gconv(x, w, kh, kw, sh, sw, oh, ow, dh, dw, top=0, left=0):
    """Dilated and/or grouped convolution of padded x (N, H, W, C) with w (G, KH*KW*C/G, F/G):
    im2col with taps (i*dh, j*dw), then one GEMM per group of channels (group g reads input
    channels g*C/G.. and makes output channels g*F/G..)."""
    n, c = x.shape[0], x.shape[3]
    groups = w.shape[0]
    x = x[:, top:, left:]
    cols = np.empty((n, oh, ow, kh * kw, c), np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i * kw + j] = _tap(x, i * dh, j * dw, sh, sw, oh, ow)
    m = n * oh * ow
    if groups == 1:
        return (cols.reshape(m, kh * kw * c) @ w[0]).reshape(n, oh, ow, w.shape[2])
    cg = c // groups
    cols = cols.reshape(m, kh * kw, groups, cg)
    out = np.empty((m, groups, w.shape[2]), np.float32)
    for g in range(groups):
        out[:, g] = cols[:, :, g].reshape(m, kh * kw * cg) @ w[g]
    return out.reshape(n, oh, ow, groups * w.shape[2])


def _dwconv(x, w, kh, kw, sh, sw, oh, ow, dh, dw):
    """Depthwise convolution of padded x (N, H, W, C) with w (KH*KW, C*M): for each tap, the
    strided view of x times that tap's weights, accumulated; output channel c*M + m."""
    n, c = x.shape[0], x.shape[3]
    m = w.shape[1] // c
    out = np.empty((n, oh, ow, c, m), np.float32)
    tmp = np.empty_like(out)
    for t in range(kh * kw):
        i, j = divmod(t, kw)
        tap = _tap(x, i * dh, j * dw, sh, sw, oh, ow)[..., None]
        np.multiply(tap, w[t].reshape(c, m), out=out if t == 0 else tmp)
        if t:
            out += tmp
    return out.reshape(n, oh, ow, c * m)


def _deconv(x, w, kh, kw, sh, sw, oh, ow, top, left):
    """Transposed convolution of x (N, H, W, Cin) with w (Cin, KH*KW*F): one GEMM gives every
    input pixel's KH x KW x F contribution, added into the full output at stride (col2im);
    then rows/columns `top`/`left` on are kept (oh x ow; zeros past the full output)."""
    n, h, wd, _ = x.shape
    f = w.shape[1] // (kh * kw)
    cols = (x.reshape(-1, x.shape[3]) @ w).reshape(n, h, wd, kh, kw, f)
    full = np.zeros((n, max((h - 1) * sh + kh, top + oh), max((wd - 1) * sw + kw, left + ow), f), np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + sh * (h - 1) + 1:sh, j:j + sw * (wd - 1) + 1:sw] += cols[:, :, :, i, j]
    if full.shape[1:3] == (oh, ow):
        return full
    return np.ascontiguousarray(full[:, top:top + oh, left:left + ow])


def _upsample(x, kh, kw):
    """Nearest-neighbour upsampling: each pixel repeated kh x kw times (one copy).

    The result is always a fresh array, as the epilogues after it write in place: where
    the repeats need no copy (a 1-pixel-wide image, or kh = kw = 1) the reshape is a
    read-only view of x, and a relu on it changed a copy and left the output negative."""
    n, h, w, c = x.shape
    big = np.broadcast_to(x[:, :, None, :, None], (n, h, kh, w, kw, c))
    y = big.reshape(n, h * kh, w * kw, c)
    return y if y.flags.writeable and y.flags.c_contiguous else y.copy()


def _lerp_axis(n, k):
    """Half-pixel bilinear taps along one axis grown k times: output o reads input
    (o + 0.5)/k - 0.5, clamped at 0 as PyTorch does (past the last pixel both taps are
    the last pixel); returns (lo, hi, weight of hi)."""
    src = np.maximum((np.arange(n * k) + 0.5) / k - 0.5, 0)
    lo = np.minimum(np.floor(src).astype(np.intp), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, (src - lo).astype(np.float32)


def _bilinear(x, kh, kw):
    """Bilinear upsampling by whole factors with half-pixel centres (align_corners=False),
    along H, then along W: lo*(1 - t) + hi*t.

    Exact for infinities: an output that falls on an input pixel (its other tap has weight
    exactly 0) is that pixel, so a zero-weight tap adds nothing (not 0 * inf = NaN) and an
    infinite value stays infinite. The result is a fresh C-contiguous array, as the
    epilogues after it work in place on reshaped rows."""
    for axis, k in ((1, kh), (2, kw)):
        lo, hi, t = _lerp_axis(x.shape[axis], k)
        t = t.reshape((-1,) + (1,) * (3 - axis))
        y = np.take(x, lo, axis=axis)
        y *= 1 - t
        b = np.take(x, hi, axis=axis)
        b *= t
        y += b
        del b
        on = np.flatnonzero(t == 0)
        if on.size:
            index = (slice(None),) * axis + (on,)
            y[index] = np.take(x, lo[on], axis=axis)
        x = y
    return x


_ZERO_ROWS = {}


def _relu(y):
    """max(y, 0) in place, against a zero row as long as an image row: numpy
    vectorizes that, and not a broadcast scalar 0. A y that is not C-contiguous (its
    reshape would be a copy, and the max would change only the copy) is done as it is."""
    if not y.flags.c_contiguous:
        np.maximum(y, np.float32(0.0), out=y)
        return
    r = y.reshape(-1, y.shape[-1] * (y.shape[-2] if y.ndim == 4 else 1))
    z = _ZERO_ROWS.get(r.shape[1])
    if z is None:
        z = _ZERO_ROWS[r.shape[1]] = np.zeros(r.shape[1], np.float32)
    np.maximum(r, z, out=r)


def _add_bias(y, bias):
    """y += bias in place, `bias` being the per-channel bias tiled along an image row: numpy
    vectorizes rows that long, and not a broadcast (C,) vector. A y that is not
    C-contiguous (its reshape would be a copy, and the sum would change only the copy)
    adds the first C values, the bias itself, as it is."""
    if not y.flags.c_contiguous:
        y += bias[:y.shape[-1]]
        return
    r = y.reshape(-1, bias.shape[0])
    r += bias


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
    """Batchnorm after an anchor, folded into its kernel (output channel on the last axis)
    and bias (None: no bias, 0), in float64. gamma, beta may be 1.0, 0.0 (scale/center false)."""
    scale = np.float64(gamma) / np.sqrt(var.astype(np.float64) + eps)
    k = kernel.astype(np.float64) * scale
    b = (np.float64(0.0 if bias is None else bias) - mean) * scale + beta
    return k.astype(np.float32), b.astype(np.float32)


def _affine(gamma, beta, mean, var, eps):
    """Batchnorm on its own as x * scale + shift (gamma, beta may be 1.0, 0.0)."""
    scale = np.float64(gamma) / np.sqrt(var.astype(np.float64) + eps)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _fold_affine(kernel, bias, scale, shift):
    """A per-channel x * scale + shift after an anchor (layerscale, normalize), folded into its
    kernel (output channel on the last axis) and bias (None: no bias, 0), in float64."""
    scale = np.asarray(scale, np.float64)
    k = kernel.astype(np.float64) * scale
    b = np.float64(0.0 if bias is None else bias) * scale + shift
    return k.astype(np.float32), b.astype(np.float32)


def _normalize_den(mean, var):
    """normalize's mean and divisor max(sqrt(var), 1e-7), in float32 as Keras computes them."""
    return mean.astype(np.float32), np.maximum(np.sqrt(var.astype(np.float32)), np.float32(1e-7))


def _normalize_affine(mean, var):
    """normalize as x * scale + shift (float64), for folding into an anchor before it."""
    den = np.maximum(np.sqrt(var.astype(np.float64)), 1e-7)
    return 1.0 / den, -mean.astype(np.float64) / den


def _layernorm(x, gamma, beta, eps):
    """Each row of the last axis normalised by its mean and biased variance, then gamma, beta."""
    y = x - x.mean(axis=-1, keepdims=True)
    v = np.square(y).mean(axis=-1, keepdims=True)
    v += np.float32(eps)
    np.sqrt(v, out=v)
    y /= v
    y *= gamma
    y += beta
    return y


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
