"""Probes: how much of a quantity can be read off a frozen representation.

Two families, one file each:

- :mod:`~mae_theory.probes.regression` (chapters 3-4): the R^2 of each latent variable and noise
  of a synthetic hierarchy from a representation, linear and nonlinear, on a held-out split, and
  the leakage profile over every node of a tree;
- :mod:`~mae_theory.probes.invertible` (chapter 3): a 2-D toy of "identifiable up to an
  invertible map", read by those probes;
- :mod:`~mae_theory.probes.classification` (chapters 8-10): the linear probe of MAE's protocol
  (BatchNorm without affine, then a linear layer) and its cross-validated version, k-NN
  accuracy, partial fine-tuning, and reconstruction PSNR / SSIM.
"""

from .classification import (
    ProbeResult,
    cross_validated_probe,
    knn_accuracy,
    linear_probe,
    partial_finetune,
    reconstruction_quality,
)
from .invertible import InvertibleToy, fold, invertible_map_toy, swirl
from .regression import (
    LeakageProfile,
    RegressionProbeConfig,
    kernel_r2,
    leakage_profile,
    linear_r2,
    probe_r2,
    r2_score,
)

__all__ = [
    "InvertibleToy",
    "LeakageProfile",
    "ProbeResult",
    "RegressionProbeConfig",
    "cross_validated_probe",
    "fold",
    "invertible_map_toy",
    "kernel_r2",
    "knn_accuracy",
    "leakage_profile",
    "linear_probe",
    "linear_r2",
    "partial_finetune",
    "probe_r2",
    "r2_score",
    "reconstruction_quality",
    "swirl",
]
