"""LOWERINGS: how the numpy backend computes each kind (one entry per keyword)."""

from __future__ import annotations

from ...layers import ACTIVATIONS
from .anchors import ConvLowering, DenseLowering, DepthwiseLowering, SeparableLowering, TransposedLowering
from .joins import ConcatLowering, ScaleLowering, SumLowering
from .lowering import Lowering
from .pointwise import (ActivationLowering, BatchNormLowering, LayerNormLowering, LayerScaleLowering,
                        NormalizeLowering, RescaleLowering)
from .spatial import (CropLowering, FlattenLowering, GlobalPoolLowering, IdentityLowering, PoolLowering,
                      UpsampleLowering, ZeroPadLowering)

LOWERINGS: dict = {
    "conv": ConvLowering(), "dwconv": DepthwiseLowering(), "sepconv": SeparableLowering(),
    "deconv": TransposedLowering(), "dense": DenseLowering(),
    "batchnorm": BatchNormLowering(), "rescale": RescaleLowering(),
    "layernorm": LayerNormLowering(), "layerscale": LayerScaleLowering(), "normalize": NormalizeLowering(),
    "crop": CropLowering(),
    "pool": PoolLowering(), "avgpool": PoolLowering(),
    "globalpool": GlobalPoolLowering(), "globalmaxpool": GlobalPoolLowering(),
    "zeropad": ZeroPadLowering(), "upsample": UpsampleLowering(),
    "residual": SumLowering(), "add": SumLowering(), "concat": ConcatLowering(), "scale": ScaleLowering(),
    "multiply": ScaleLowering(),
    "flatten": FlattenLowering(), "dropout": IdentityLowering(), "input": Lowering(),
    **{name: ActivationLowering() for name in ACTIVATIONS},
}
