"""The book's figure style and one function per recurring figure.

One file per family of figures, so a chapter's figures are easy to find:

- :mod:`~mae_theory.plotting.style`: the book style, the palette and shared helpers;
- :mod:`~mae_theory.plotting.diagrams`: concept diagrams (the MAE pipeline, image vs token MAE,
  a pre-LN block, the decoder as interpolation);
- :mod:`~mae_theory.plotting.hierarchy`: latent trees, the shared latents c(m), tree samples;
- :mod:`~mae_theory.plotting.images`: images, patches, masks, reconstructions;
- :mod:`~mae_theory.plotting.leakage`: leakage profiles and theory-vs-measurement (chapters 3-4);
- :mod:`~mae_theory.plotting.representations`: the invertible-map toy and T2b (chapter 3),
  representations across layers and seeds (chapters 7-8);
- :mod:`~mae_theory.plotting.training`: loss curves and sweeps over the masking ratio.
- :mod:`~mae_theory.plotting.sweeps`: named experiments against the papers (chapter 9).
- :mod:`~mae_theory.plotting.propagation`: a block's update against its bound (chapter 7);
- :mod:`~mae_theory.plotting.decoder`: paired differences with their intervals (chapter 8).

Every function takes torch tensors or numpy arrays alike, draws into an axes or figure it is
given (or a new one), returns it, and never calls ``plt.show()``: the notebook displays it.
"""

from .beyond import (
    plot_erank_vs_ratio,
    plot_fit_scatter,
    plot_hmm_twin,
    plot_masked_prediction,
    plot_reach,
    plot_subspace_accuracy,
)
from .decoder import plot_paired_differences
from .diagrams import (
    plot_decoder_interpolation,
    plot_mae_pipeline,
    plot_preln_block,
    plot_token_vs_image_mae,
)
from .hierarchy import (
    plot_child_vs_parent,
    plot_shared_latents,
    plot_tree,
    plot_tree_images,
    tree_layout,
)
from .images import (
    MASK_EDGE,
    MASK_TINT,
    mark_masked_patches,
    plot_patches,
    plot_reconstructions,
    show_images,
)
from .leakage import plot_expected_dim, plot_leakage_profile, plot_theory_vs_measured, plot_tree_r2
from .operators import (
    plot_erank_by_layer,
    plot_kernel_nodes,
    plot_patch_approximations,
    plot_patch_decomposition,
    plot_rate,
    plot_spectra,
)
from .propagation import plot_update_vs_scale
from .representations import (
    plot_cka_matrices,
    plot_grouped_bars,
    plot_invertible_toy,
    plot_r2_by_dim,
    plot_seed_curves,
    plot_tree_r2_panels,
)
from .style import BOOK_STYLE, MASK_GREY, OKABE_ITO, use_book_style
from .sweeps import (
    plot_differences,
    plot_psnr_ssim,
    plot_readout_geometry,
    plot_sweep,
    plot_sweep_panels,
    readout_toy,
    sweep_points,
)
from .training import plot_loss_curve, plot_ratio_sweep

__all__ = [
    "plot_decoder_interpolation",
    "plot_mae_pipeline",
    "plot_preln_block",
    "plot_token_vs_image_mae",
    "plot_erank_vs_ratio",
    "plot_fit_scatter",
    "plot_hmm_twin",
    "plot_masked_prediction",
    "plot_reach",
    "plot_subspace_accuracy",
    "plot_paired_differences",
    "plot_update_vs_scale",
    "plot_differences",
    "plot_readout_geometry",
    "readout_toy",
    "plot_psnr_ssim",
    "plot_sweep",
    "plot_sweep_panels",
    "sweep_points",
    "plot_cka_matrices",
    "plot_grouped_bars",
    "plot_invertible_toy",
    "plot_r2_by_dim",
    "plot_seed_curves",
    "plot_child_vs_parent",
    "plot_shared_latents",
    "plot_tree",
    "plot_tree_images",
    "tree_layout",
    "plot_expected_dim",
    "plot_leakage_profile",
    "plot_theory_vs_measured",
    "plot_tree_r2",
    "plot_tree_r2_panels",
    "plot_erank_by_layer",
    "plot_kernel_nodes",
    "plot_patch_approximations",
    "plot_patch_decomposition",
    "plot_rate",
    "plot_spectra",
    "BOOK_STYLE",
    "MASK_GREY",
    "OKABE_ITO",
    "plot_loss_curve",
    "MASK_EDGE",
    "MASK_TINT",
    "mark_masked_patches",
    "plot_patches",
    "plot_ratio_sweep",
    "plot_reconstructions",
    "show_images",
    "use_book_style",
]
