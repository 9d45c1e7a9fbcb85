"""Every kind of the language, one file per family:

    convolution.py   conv
    pooling.py       pool, avgpool, globalpool
    vectors.py       flatten, dense
    elementwise.py   batchnorm, dropout, the activations alone (relu, ...)
    structure.py     input and the joins of blocks (residual, concat)

Each class holds every fact about one statement (arguments, shape rule, parameter
shapes in Keras layouts, MACs, fusion role); ALL lists one instance of each.
"""

from __future__ import annotations

from .activations import NAMES as ACTIVATION_NAMES
from .convolution import Conv
from .elementwise import ActivationLayer, BatchNorm, Dropout
from .pooling import AvgPool, GlobalPool, MaxPool
from .structure import Concat, Input, Residual
from .vectors import Dense, Flatten

ALL = (Conv(), MaxPool(), AvgPool(), GlobalPool(), Flatten(), Dense(), BatchNorm(), Dropout(), Input(),
       Residual(), Concat(), *(ActivationLayer(a) for a in ACTIVATION_NAMES))
