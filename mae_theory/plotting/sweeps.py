"""Figures of the named experiments (chapter 9): a metric over a sweep, against the paper.

Each function takes a result dict of :func:`mae_theory.experiments.run_experiment` (or
:func:`~mae_theory.experiments.load_result`): measurements are markers with error bars (mean and
standard deviation over seeds), the paper's numbers a dashed line on a second axis, since they
come from another scale (ViT-B on ImageNet against a ViT-Tiny on Fashion-MNIST).
"""

from __future__ import annotations

from .style import OKABE_ITO, _new_axes

_LABELS = {"mask_ratio": "masking ratio $r$", "mask_unit_px": "masking unit (pixels)",
           "decoder_depth": "decoder blocks"}
_METRICS = {"linear_probe": "linear probe accuracy", "knn": "k-NN accuracy",
            "partial_ft": "partial fine-tuning accuracy", "psnr": "PSNR (dB)", "ssim": "SSIM",
            "psnr_own_ratio": "PSNR at own $r$ (dB)", "ssim_own_ratio": "SSIM at own $r$"}


def sweep_points(result: dict, metric: str) -> tuple[list, list[float], list[float]]:
    """``(values, means, stds)`` of ``metric`` over the sweep, in the experiment's order.

    Examples
    --------
    >>> res = {"values": [1, 2], "summary": {"knn": {"1": {"mean": 0.5, "std": 0.1},
    ...                                               "2": {"mean": 0.6, "std": 0.0}}}}
    >>> sweep_points(res, "knn")
    ([1, 2], [0.5, 0.6], [0.1, 0.0])
    """
    if metric not in result.get("summary", {}):
        raise ValueError(f"metric {metric!r} is not in this result; it has "
                         f"{sorted(result.get('summary', {}))}.")
    by_value = result["summary"][metric]
    values = [v for v in result["values"] if str(v) in by_value]
    return (values, [by_value[str(v)]["mean"] for v in values],
            [by_value[str(v)]["std"] for v in values])


def plot_sweep(result: dict, metric: str = "linear_probe", *, ax=None, paper: bool = True,
               label: str | None = None, color=None):
    """One metric over the swept setting (mean +- std over seeds), the paper's line beside it.

    Parameters
    ----------
    result : dict
        A result of :func:`~mae_theory.experiments.run_experiment`.
    metric : str
        A key of ``result["summary"]``, e.g. ``"linear_probe"``, ``"knn"``, ``"ssim"``.
    ax : matplotlib.axes.Axes, optional
    paper : bool, default True
        Draw ``result["paper"]["values"]`` (when it scores ``metric``) on a right-hand axis.
    label, color : optional
        Legend entry and colour of the measurements.

    Returns
    -------
    matplotlib.axes.Axes
        The left axes (the paper's twin axis is ``ax.paper_axis`` when drawn).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> res = {"values": [0.25, 0.75], "parameter": "mask_ratio", "smoke": True, "seeds": [0],
    ...        "summary": {"knn": {"0.25": {"mean": 0.5, "std": 0.1},
    ...                            "0.75": {"mean": 0.6, "std": 0.0}}}, "paper": {}}
    >>> ax = plot_sweep(res, "knn")
    >>> len(ax.containers)
    1
    >>> plt.close("all")
    """
    values, means, stds = sweep_points(result, metric)
    ax = _new_axes(ax, figsize=(4.6, 3.2))
    numeric = result.get("parameter") == "mask_ratio"
    xs = values if numeric else list(range(len(values)))
    n_seeds = len(result.get("seeds", []))
    size = " (smoke size)" if result.get("smoke") else ""
    ax.errorbar(xs, means, yerr=stds, fmt="o-", capsize=3, color=color or OKABE_ITO[0],
                label=label or f"this book{size}, {n_seeds} seed{'s' * (n_seeds != 1)}")
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in values])
    ax.set_xlabel(_LABELS.get(result.get("parameter"), result.get("parameter", "")))
    ax.set_ylabel(_METRICS.get(metric, metric))
    ref = result.get("paper") or {}
    if paper and ref.get("metric") == metric and ref.get("values"):
        twin = ax.twinx()
        pv = [ref["values"].get(str(v)) for v in values]
        twin.plot([x for x, p in zip(xs, pv) if p is not None], [p for p in pv if p is not None],
                  "s--", color=OKABE_ITO[1], label="paper (right axis)")
        twin.set_ylabel("paper, %", color=OKABE_ITO[1])
        twin.grid(False)
        handles = ax.get_legend_handles_labels()
        extra = twin.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower center",
                  fontsize="small")
        ax.paper_axis = twin
    else:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_sweep_panels(result: dict, metrics=("linear_probe", "knn", "partial_ft"), *,
                      fig=None):
    """One panel per metric of a sweep, side by side (the paper's line on the first only).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> res = {"values": [1], "parameter": "decoder_depth", "seeds": [0], "paper": {},
    ...        "summary": {"knn": {"1": {"mean": 0.5, "std": 0.0}}}}
    >>> len(plot_sweep_panels(res, ("knn",)).axes)
    1
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in result.get("summary", {})]
    if not metrics:
        raise ValueError("none of the metrics is in this result.")
    fig = fig or plt.figure(figsize=(4.2 * len(metrics), 3.3), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        plot_sweep(result, metric, ax=ax, paper=i == 0, color=OKABE_ITO[(2 * i) % 4])
    return fig


def plot_psnr_ssim(result: dict, *, suffix: str = "", fig=None):
    """PSNR and SSIM of reconstructions over the sweep, two panels.

    ``suffix=""`` scores every model at the common test ratio; ``"_own_ratio"`` at its own.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> s = {"1": {"mean": 20.0, "std": 1.0}}
    >>> res = {"values": [1], "parameter": "decoder_depth", "seeds": [0], "paper": {},
    ...        "summary": {"psnr": s, "ssim": {"1": {"mean": 0.5, "std": 0.0}}}}
    >>> len(plot_psnr_ssim(res).axes)
    2
    >>> plt.close("all")
    """
    return plot_sweep_panels(result, ("psnr" + suffix, "ssim" + suffix), fig=fig)
