"""Every kind of the language, one file per family:

    convolution.py   conv, dwconv, sepconv, deconv
    pooling.py       pool, avgpool, globalpool, globalmaxpool
    resampling.py    zeropad, upsample
    vectors.py       flatten, dense
    elementwise.py   batchnorm, rescale, dropout, the activations alone (relu, ...)
    structure.py     input and the joins of blocks (residual, concat, scale)

Each class holds every fact about one statement (arguments, shape rule, parameter
shapes in Keras layouts, MACs, fusion role); ALL lists one instance of each.
"""

from __future__ import annotations

from .activations import NAMES as ACTIVATION_NAMES
from .convolution import Conv, DepthwiseConv, SeparableConv, TransposedConv
from .elementwise import ActivationLayer, BatchNorm, Dropout, Rescale
from .pooling import AvgPool, GlobalMaxPool, GlobalPool, MaxPool
from .resampling import Upsample, ZeroPad
from .structure import Concat, Input, Residual, Scale
from .vectors import Dense, Flatten

ALL = (Conv(), DepthwiseConv(), SeparableConv(), TransposedConv(), MaxPool(), AvgPool(), GlobalPool(),
       GlobalMaxPool(), ZeroPad(), Upsample(), Flatten(), Dense(), BatchNorm(), Rescale(), Dropout(), Input(),
       Residual(), Concat(), Scale(), *(ActivationLayer(a) for a in ACTIVATION_NAMES))
