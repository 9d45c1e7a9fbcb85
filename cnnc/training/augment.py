"""Augmentations, the course notes' fix for CNNs not being rotation invariant: one random
affine map per image, drawn afresh for every batch.

  rotate  a small rotation, up to +-10 degrees
  shift   up to +-10 % of the width and height
  zoom    a scale between 0.9 and 1.1
  flip    a horizontal mirror with probability 1/2 -- only when asked: it turns
          a 2 into a mirrored 2 that is no digit at all

The maps are drawn on the CPU from their own seeded generator for the whole global
batch; each process of a distributed run applies the rows of its own images, so one
process and N processes see the same augmented batch.
"""

from __future__ import annotations

import math

from .data import DataError

AUGMENTATIONS = ("rotate", "shift", "zoom", "flip")
MAX_ROTATION_DEG, MAX_SHIFT, MAX_ZOOM = 10.0, 0.10, 0.10


def parse_augment(text: "str | None") -> tuple:
    """`rotate,shift` -> ("rotate", "shift"); an unknown name is a DataError."""
    if not text:
        return ()
    return check_augmentations(t.strip() for t in text.split(",") if t.strip())


def check_augmentations(names) -> tuple:
    names = tuple(names)
    for n in names:
        if n not in AUGMENTATIONS:
            raise DataError(f"unknown augmentation '{n}'; choose from {', '.join(AUGMENTATIONS)}")
    return names


def affine_maps(n: int, kinds, generator):
    """(n, 2, 3) affine maps (affine_grid's [-1, 1] coordinates) drawn from a CPU generator."""
    import torch

    def uniform(lo, hi):
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    angle = uniform(-1, 1) * math.radians(MAX_ROTATION_DEG) if "rotate" in kinds else torch.zeros(n)
    scale = uniform(1 - MAX_ZOOM, 1 + MAX_ZOOM) if "zoom" in kinds else torch.ones(n)
    # a shift of 10 % of the size is 0.2 in [-1, 1] coordinates
    tx = uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT) if "shift" in kinds else torch.zeros(n)
    ty = uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT) if "shift" in kinds else torch.zeros(n)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if "flip" in kinds else torch.ones(n)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)


def apply_maps(batch, theta):
    """Warp an NCHW batch with one (2, 3) map per image (bilinear, zeros outside)."""
    import torch.nn.functional as F

    theta = theta.to(device=batch.device, dtype=batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(batch, kinds, generator):
    """Random affine maps of an NCHW batch (torch); kinds from AUGMENTATIONS."""
    if not kinds:
        return batch
    return apply_maps(batch, affine_maps(batch.shape[0], kinds, generator))
