"""Diagnostics of the second edition's statements and options: place and message, in the
program's own terms."""

from __future__ import annotations

import pytest

import cnnc
from conftest import errors_of

# (program, line, col, fragments the message must hold)
ERRORS = [
    ("groups vs filters", "input 8x8x32\nconv 16 3 groups=3\n", 2, 11, ["conv_1", "groups=3", "16 filters"]),
    ("groups vs channels", "input 8x8x32\nc: conv 30 3 groups=3\n", 2, 1,
     ["c:", "groups=3", "32 input channels", "8x8x32"]),
    ("zero groups", "input 8x8x4\nconv 4 3 groups=0\n", 2, 10, ["groups", "positive"]),
    ("dilation with stride", "input 16x16x3\nconv 8 3 stride=2 dilation=2\n", 2, 19,
     ["conv_1", "dilation=2 with stride=2", "stride 1"]),
    ("dilated collapse", "input 8x8x3\nconv 4 3 dilation=4\n", 2, 1,
     ["collapses", "dilation 4: 9x9 wide", "8x8x3", "0x0x4", "9x9"]),
    ("zero dilation", "input 8x8x3\ndwconv 3 dilation=0\n", 2, 10, ["dilation", "positive"]),
    ("bias word", "input 8x8x3\nconv 4 3 bias=no\n", 2, 10, ["bias must be true or false", "'no'"]),
    ("dwconv multiplier", "input 8x8x3\ndwconv 3 multiplier=0\n", 2, 10, ["depth multiplier", "positive"]),
    ("dwconv on vector", "input 8x8x3\nflatten\ndwconv 3\n", 3, 1, ["dwconv_1", "needs an image", "vector of 192"]),
    ("sepconv missing kernel", "input 8x8x3\nsepconv 8\n", 2, 9, ["missing its kernel", "usage: sepconv"]),
    ("deconv integer padding", "input 8x8x3\ndeconv 4 3 padding=1\n", 2, 12,
     ["deconv_1", "padding must be valid or same", "'1'"]),
    ("deconv dilation", "input 8x8x3\ndeconv 4 3 dilation=2\n", 2, 12, ["unknown option 'dilation'", "stride="]),
    ("upsample mode", "input 8x8x3\nupsample 2 mode=cubic\n", 2, 12, ["mode must be one of nearest, bilinear"]),
    ("upsample zero", "input 8x8x3\nupsample 0\n", 2, 10, ["upsampling size", "positive"]),
    ("zeropad nothing", "input 8x8x3\nzeropad\n", 2, 1, ["zeropad_1", "needs its padding", "top=T"]),
    ("zeropad both", "input 8x8x3\nzeropad 1 left=2\n", 2, 11, ["give the padding once"]),
    ("zeropad negative", "input 8x8x3\nzeropad top=-1\n", 2, 9, ["top padding", "0 or more"]),
    ("zeropad three", "input 8x8x3\nzeropad 1x2x3\n", 2, 9, ["padding must be a number of pixels like 1 or 1x2"]),
    ("rescale missing", "input 8x8x3\nrescale\n", 2, 1, ["missing its scale", "usage: rescale"]),
    ("rescale word", "input 8x8x3\nrescale half\n", 2, 9, ["scale must be a decimal number"]),
    ("batchnorm scale word", "input 8x8x3\nbatchnorm scale=0\n", 2, 11, ["scale must be true or false"]),
    ("scale not a vector", "input 8x8x16\nse: scale { conv 16 1 sigmoid }\n", 2, 1,
     ["se:", "vector of 16 values", "8x8x16", "gives an image 8x8x16", "globalpool"]),
    ("scale wrong length", "input 8x8x16\nscale { globalpool; dense 4 relu; dense 8 sigmoid }\n", 2, 1,
     ["scale_1", "vector of 16 values", "gives a vector of 8", "dense 16 sigmoid"]),
    ("scale on vector", "input 8x8x16\nglobalpool\nscale { dense 16 }\n", 3, 1, ["scale_1", "gates an image", "vector of 16"]),
    ("scale count", "input 8x8x4\nscale 2 { globalpool; dense 4 }\n", 2, 7, ["takes no count"]),
    ("keras depthwise", "input 8x8x1\nDepthwiseConv2D 3\n", 2, 1, ["unknown statement", "did you mean 'dwconv'"]),
    ("keras separable", "input 8x8x1\nSeparableConv2D 8 3\n", 2, 1, ["did you mean 'sepconv'"]),
    ("keras transposed", "input 8x8x1\nConv2DTranspose 8 3\n", 2, 1, ["did you mean 'deconv'"]),
    ("torch transposed", "input 8x8x1\nConvTranspose2d 8 3\n", 2, 1, ["did you mean 'deconv'"]),
    ("keras upsampling", "input 8x8x1\nUpSampling2D 2\n", 2, 1, ["did you mean 'upsample'"]),
    ("keras zeropadding", "input 8x8x1\nZeroPadding2D 1\n", 2, 1, ["did you mean 'zeropad'"]),
    ("keras global max", "input 8x8x1\nGlobalMaxPooling2D\n", 2, 1, ["did you mean 'globalmaxpool'"]),
    ("keras rescaling", "input 8x8x1\nRescaling 0.5\n", 2, 1, ["did you mean 'rescale'"]),
    ("keras multiply", "input 8x8x1\nMultiply\n", 2, 1, ["did you mean 'multiply'"]),
]


@pytest.mark.parametrize("name,text,line,col,fragments", ERRORS, ids=[e[0] for e in ERRORS])
def test_error(name, text, line, col, fragments):
    e = errors_of(text)
    assert (e.line, e.col) == (line, col), e.message
    for f in fragments:
        assert f in e.message, (f, e.message)
    assert "Traceback" not in str(e)


def test_dilation_needs_no_stride_only_on_conv():
    """Keras's Conv2D refuses dilation with stride; DepthwiseConv2D and SeparableConv2D take both."""
    assert cnnc.parse("input 16x16x3\ndwconv 3 stride=2 dilation=2").output_shape == (6, 6, 3)
    assert cnnc.parse("input 16x16x3\nsepconv 4 3 stride=2 dilation=2 padding=same").output_shape == (8, 8, 4)


def test_scale_is_a_block_keyword():
    e = errors_of("input 8x8x1\nscale: conv 2 3\n")
    assert (e.line, e.col) == (2, 6) and "syntax error" in e.message
    assert cnnc.parse("input 8x8x1\nbatchnorm scale=false\n").layers[0].attrs["scale"] is False


def test_dropped_rows_warning_uses_the_dilated_kernel():
    net = cnnc.parse("input 10x10x1\nconv 2 3 dilation=2\nconv 2 3 stride=2\n")
    # 10 -> 6 (a 5-wide window); 6 -> 2 with a 3-wide window at stride 2 drops the last row
    assert [w.message.split(":")[0] for w in net.warnings] == ["conv_2"]
    net = cnnc.parse("input 9x9x1\ndwconv 3 dilation=3 stride=2\n")   # 7 wide: 9 -> 2, rows 0..6 and 2..8
    assert not net.warnings


def test_a_window_that_drops_only_zeropad_rows_is_not_warned():
    """ZeroPadding2D(1) + MaxPooling2D(3, 2) on 112: the dropped row is padding (ResNet50V2)."""
    assert not cnnc.parse("input 112x112x4\nzeropad 1\npool 3 stride=2\n").warnings
    assert not cnnc.parse("input 10x10x1\nzeropad bottom=1 right=1\nconv 1 2 stride=2\n").warnings
    net = cnnc.parse("input 10x10x1\nzeropad top=1\npool 2\n")   # 11 rows: the last real row is dropped
    assert [w.message.split(":")[0] for w in net.warnings] == ["pool_1"] and "last row" in net.warnings[0].message
