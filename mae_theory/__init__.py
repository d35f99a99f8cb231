"""mae_theory: the package behind *Understanding Masked Autoencoders*.

Each module is one concept of the book, in reading order: runtime, masking, models, train, data
(chapter 1); hierarchy, theory, tree_mae, probes (chapters 2-4); domain, operators, metrics,
propagation, interpolation (chapters 5-8); experiments (chapter 9); hmm, spectral (chapter 10);
plotting and widgets for all of them. The flat API below is what the chapters call.
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    attention_metrics,
    data,
    experiments,
    fashion_mnist,
    hierarchy,
    hmm,
    image_quality,
    interpolation,
    masking,
    metrics,
    models,
    operators,
    plotting,
    probes,
    propagation,
    runtime,
    spectral,
    theory,
    tree_mae,
)
from .data import ImageData, load_dataset, load_digits, synthetic_shapes  # noqa: E402
from .experiments import load_result, run_experiment  # noqa: E402
from .fashion_mnist import load_fashion_mnist  # noqa: E402
from .hierarchy import LatentTree, Sample  # noqa: E402
from .masking import (  # noqa: E402
    Masking,
    block_mask,
    grid_mask,
    masking_from_mask,
    n_visible,
    patchify,
    random_masking,
    unpatchify,
)
from .metrics import (  # noqa: E402
    cka_matrix,
    effective_rank,
    linear_cka,
    masked_mse,
    masked_to_visible_attention,
    mean_attention_distance,
    mean_patch,
    psnr,
    ssim,
)
from .models import (  # noqa: E402
    MAE,
    UMAE,
    LinearMAE,
    TokenMAE,
    sincos_pos_embed_2d,
    token_masking,
    uniformity_loss,
)
from .operators import (  # noqa: E402
    attention_effective_rank,
    attention_kernels,
    kernel_attention,
    kernel_spectrum,
    patch_approximation,
    patch_approximation_error,
    rough_image,
    smooth_image,
    subset_attention,
)
from .probes import (  # noqa: E402
    LeakageProfile,
    ProbeResult,
    RegressionProbeConfig,
    kernel_r2,
    knn_accuracy,
    leakage_profile,
    linear_probe,
    linear_r2,
    partial_finetune,
    probe_r2,
    r2_score,
)
from .runtime import SeedLike, autocast, make_generator, provenance, resolve_device  # noqa: E402
from .theory import (  # noqa: E402
    deepest_shared_latents,
    expected_shared_dim,
    gaussian_r2,
    leaf_units,
    shared_dim,
    shared_dim_samples,
    shared_latents,
)
from .train import TrainConfig, TrainResult, lr_at, train  # noqa: E402
from .tree_mae import TreeMAEConfig, run_mask_experiment, train_tree_mae  # noqa: E402

__all__ = [
    "LinearMAE",
    "UMAE",
    "hmm",
    "spectral",
    "uniformity_loss",
    "LeakageProfile",
    "RegressionProbeConfig",
    "TokenMAE",
    "TreeMAEConfig",
    "kernel_r2",
    "leakage_profile",
    "linear_r2",
    "probe_r2",
    "r2_score",
    "run_mask_experiment",
    "token_masking",
    "train_tree_mae",
    "tree_mae",
    "experiments",
    "probes",
    "ProbeResult",
    "knn_accuracy",
    "linear_probe",
    "load_result",
    "partial_finetune",
    "run_experiment",
    "interpolation",
    "propagation",
    "operators",
    "attention_effective_rank",
    "attention_kernels",
    "kernel_attention",
    "kernel_spectrum",
    "patch_approximation",
    "patch_approximation_error",
    "rough_image",
    "smooth_image",
    "subset_attention",
    "LatentTree",
    "Sample",
    "deepest_shared_latents",
    "expected_shared_dim",
    "gaussian_r2",
    "hierarchy",
    "leaf_units",
    "shared_dim",
    "shared_dim_samples",
    "shared_latents",
    "theory",
    "ssim",
    "psnr",
    "mean_attention_distance",
    "masked_to_visible_attention",
    "linear_cka",
    "effective_rank",
    "cka_matrix",
    "MAE",
    "ImageData",
    "Masking",
    "SeedLike",
    "TrainConfig",
    "TrainResult",
    "autocast",
    "block_mask",
    "data",
    "fashion_mnist",
    "grid_mask",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "lr_at",
    "make_generator",
    "masked_mse",
    "masking",
    "masking_from_mask",
    "mean_patch",
    "metrics",
    "attention_metrics",
    "image_quality",
    "models",
    "n_visible",
    "patchify",
    "plotting",
    "provenance",
    "random_masking",
    "resolve_device",
    "runtime",
    "sincos_pos_embed_2d",
    "synthetic_shapes",
    "train",
    "unpatchify",
    "widgets",
]


def __getattr__(name):
    # widgets needs ipywidgets (and a notebook) only when an explorer is used: import it lazily
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module 'mae_theory' has no attribute {name!r}")
