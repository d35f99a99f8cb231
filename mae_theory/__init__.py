"""mae_theory: the package behind *Understanding Masked Autoencoders*.

One module per concept, in the book's reading order:

* chapter 1 -- ``masking`` (patches and masks), ``models`` (the ViT MAE, official-compatible, and
  its named sizes), ``training`` (the loop; its parts ``batches``, ``guard``, ``checkpoint``,
  ``distributed``, ``throughput``), ``data`` and ``fashion_mnist`` (images), ``metrics``;
* chapters 2-4 -- ``hierarchy`` (latent trees), ``theory`` (c(m) and its dimension; the linear
  MAE), ``tree_mae`` (the token-MAE experiments), ``tree_downstream`` (chapter 4b:
  what the deployed representation is good for), ``tree_images`` (a ViT MAE on quadtree
  images of a tree, chapter 4c), ``probes``;
* chapters 5-8 -- ``domain``, ``operators``, ``attention_metrics``, ``propagation``,
  ``interpolation``;
* chapter 9 -- ``experiments`` (named sweeps and their CLI), ``results`` (validated result files
  with provenance), ``image_quality``;
* chapter 10 -- ``hmm``, ``spectral``;
* everywhere -- ``runtime`` (devices, seeds), ``checks`` (boundary validation), ``verdicts``
  (pre-registered claims), ``zoo`` (pretrained models behind a learning gate), ``plotting``,
  ``widgets``.

The flat names below are what the chapters and a user need most; everything else is reached
through its module (``mt.operators.kernel_attention``, ``mt.tree_mae.run_mask_experiment``).
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    attention_metrics,
    batches,
    checkpoint,
    checks,
    data,
    distributed,
    domain,
    experiments,
    fashion_mnist,
    guard,
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
    results,
    runtime,
    spectral,
    theory,
    throughput,
    training,
    tree_downstream,
    tree_images,
    tree_mae,
    verdicts,
    zoo,
)
from .data import ImageData, load_dataset, load_digits, synthetic_shapes  # noqa: E402
from .experiments import run_experiment  # noqa: E402
from .fashion_mnist import load_fashion_mnist  # noqa: E402
from .hierarchy import LatentTree  # noqa: E402
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
    mae_digits,
    mae_digits_decoder,
    mae_digits_deep,
    mae_digits_small,
    mae_digits_tiny,
    mae_micro,
    mae_mirror,
    mae_small_patch4,
    mae_smoke,
    mae_tiny_patch2,
    mae_tiny_patch4,
    mae_vit_base_patch16,
    sincos_pos_embed_2d,
)
from .probes import knn_accuracy, leakage_profile, linear_probe, partial_finetune, probe_r2  # noqa: E402
from .results import load_result, provenance  # noqa: E402
from .runtime import DeviceLike, SeedLike, make_generator, resolve_device  # noqa: E402
from .theory import (  # noqa: E402
    dag_shared_latents,
    deepest_shared_latents,
    expected_shared_dim,
    gaussian_r2,
    shared_dim,
    shared_latents,
)
from .training import TrainConfig, TrainResult, train  # noqa: E402
from .verdicts import Claim, Equivalence, PairedTest, Tolerance, judge  # noqa: E402
from .zoo import load_pretrained  # noqa: E402

# names first, then the concept modules; both sorted (a test keeps it so)
__all__ = [
    "Claim",
    "DeviceLike",
    "Equivalence",
    "ImageData",
    "LatentTree",
    "LinearMAE",
    "MAE",
    "Masking",
    "PairedTest",
    "SeedLike",
    "TokenMAE",
    "Tolerance",
    "TrainConfig",
    "TrainResult",
    "UMAE",
    "block_mask",
    "cka_matrix",
    "dag_shared_latents",
    "deepest_shared_latents",
    "effective_rank",
    "expected_shared_dim",
    "gaussian_r2",
    "grid_mask",
    "judge",
    "knn_accuracy",
    "leakage_profile",
    "linear_cka",
    "linear_probe",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_pretrained",
    "load_result",
    "mae_digits",
    "mae_digits_decoder",
    "mae_digits_deep",
    "mae_digits_small",
    "mae_digits_tiny",
    "mae_micro",
    "mae_mirror",
    "mae_small_patch4",
    "mae_smoke",
    "mae_tiny_patch2",
    "mae_tiny_patch4",
    "mae_vit_base_patch16",
    "make_generator",
    "masked_mse",
    "masked_to_visible_attention",
    "masking_from_mask",
    "mean_attention_distance",
    "mean_patch",
    "n_visible",
    "partial_finetune",
    "patchify",
    "probe_r2",
    "provenance",
    "psnr",
    "random_masking",
    "resolve_device",
    "run_experiment",
    "shared_dim",
    "shared_latents",
    "sincos_pos_embed_2d",
    "ssim",
    "synthetic_shapes",
    "train",
    "unpatchify",
    "attention_metrics",
    "batches",
    "checkpoint",
    "checks",
    "data",
    "distributed",
    "domain",
    "experiments",
    "fashion_mnist",
    "guard",
    "hierarchy",
    "hmm",
    "image_quality",
    "interpolation",
    "masking",
    "metrics",
    "models",
    "operators",
    "plotting",
    "probes",
    "propagation",
    "results",
    "runtime",
    "spectral",
    "theory",
    "throughput",
    "training",
    "tree_downstream",
    "tree_images",
    "tree_mae",
    "verdicts",
    "widgets",
    "zoo",
]


def __getattr__(name):
    # widgets needs ipywidgets (and a notebook) only when an explorer is used: import it lazily
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module 'mae_theory' has no attribute {name!r}")
