"""Closed-form predictions that the chapters test against, one file per theory.

- :mod:`~mae_theory.theory.trees` (chapters 2-4): the shared latents c(m) of a mask in a latent
  tree, their dimension, node roles, and the exact R^2 of a linear-Gaussian tree (the book's
  reconstruction of Kong et al., 2023);
- :mod:`~mae_theory.theory.dags` (chapter 2): c(m) in a DAG of latents, checked by brute force
  on a linear-Gaussian DAG;
- :mod:`~mae_theory.theory.masks` (chapters 3-4): dim c(m) over random masks, masking units;
- :mod:`~mae_theory.theory.linear` (chapter 10): the linear MAE in closed form.

Every public name of the three is importable from here, e.g. ``theory.shared_dim`` or
``theory.expected_masked_loss``.
"""

from .dags import dag_bruteforce, dag_shared_latents, linear_gaussian_dag
from .linear import (
    expected_masked_loss,
    exponential_covariance,
    fixed_mask_optimum,
    linear_mae_optimum,
    optimal_linear_predictor,
    predictor_reach,
    subspace_angle,
)
from .masks import (
    expected_dim_curves,
    expected_shared_dim,
    leaf_units,
    mean_shared_dim,
    shared_dim_samples,
)
from .trees import (
    ROLES,
    boundary_targets,
    deepest_shared_latents,
    frontier,
    gaussian_r2,
    information_dim,
    mixed_latents,
    node_roles,
    shared_dim,
    shared_latents,
)
from .trees import (  # private: plotting.hierarchy validates masks with it
    _masked_leaves as _masked_leaves,
)

__all__ = [
    "ROLES",
    "boundary_targets",
    "dag_bruteforce",
    "dag_shared_latents",
    "deepest_shared_latents",
    "expected_dim_curves",
    "expected_masked_loss",
    "expected_shared_dim",
    "exponential_covariance",
    "fixed_mask_optimum",
    "frontier",
    "gaussian_r2",
    "information_dim",
    "leaf_units",
    "linear_gaussian_dag",
    "linear_mae_optimum",
    "mean_shared_dim",
    "mixed_latents",
    "node_roles",
    "optimal_linear_predictor",
    "predictor_reach",
    "shared_dim",
    "shared_dim_samples",
    "shared_latents",
    "subspace_angle",
]
