"""Figures of the named experiments (chapter 9): a metric over a sweep, and differences.

Each function takes a result dict of :func:`mae_theory.experiments.run_experiment` (or
:func:`~mae_theory.experiments.load_result`). Measurements are markers with error bars; the
paper's numbers are never drawn on a second axis (they come from another scale, ViT-B on
ImageNet, and a twin axis makes any two curves look alike): the chapter puts them in a table.

- :func:`plot_sweep`: one metric's mean +- std over seeds, with the controls (untrained encoder,
  raw pixels) as horizontal lines where the result has them;
- :func:`plot_differences`: each setting minus a reference setting, paired by seed, with the
  90 % interval of the verdict boxes, all metrics on one axis in accuracy points.

Axes are drawn at true size: an accuracy or an SSIM axis runs from 0 to 1 and a PSNR axis starts
at 0 dB, so a one-point change looks like one point. Differences a full axis would flatten are
shown by :func:`plot_differences`, with their intervals, never by zooming the axis.
"""

from __future__ import annotations

from .style import OKABE_ITO, _new_axes

_LABELS = {"mask_ratio": "masking ratio $r$", "mask_unit_px": "masking unit (pixels)",
           "decoder_depth": "decoder blocks"}
_METRICS = {"linear_probe": "linear probe accuracy", "knn": "k-NN accuracy",
            "partial_ft": "partial fine-tuning accuracy", "psnr": "PSNR (dB)", "ssim": "SSIM",
            "psnr_own_ratio": "PSNR at own $r$ (dB)", "ssim_own_ratio": "SSIM at own $r$",
            "psnr_unmasked": "PSNR, unmasked (dB)", "ssim_unmasked": "SSIM, unmasked"}
_CONTROLS = (("init_", "untrained encoder", ":"), ("pixels_", "raw pixels", "--"))
_UNIT_RANGE = ("linear_probe", "knn", "partial_ft", "ssim")  # scores in [0, 1]
MAX_WIDTH_IN = 7.5  # the widest figure the book prints (labels stay >= 9 pt at page width)


def true_size_limits(metric: str) -> tuple[float, float | None]:
    """The y-limits that show ``metric`` at its true size: ``(0, 1)`` or ``(0, None)``.

    Accuracies and SSIM live in [0, 1] and get the whole range; PSNR and other non-negative
    scores start at 0 (``None``: the top is left to the data).

    Examples
    --------
    >>> true_size_limits("knn"), true_size_limits("ssim_unmasked"), true_size_limits("psnr")
    ((0.0, 1.0), (0.0, 1.0), (0.0, None))
    """
    base = metric.split("_unmasked")[0].split("_own_ratio")[0]
    return (0.0, 1.0) if base in _UNIT_RANGE else (0.0, None)


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


def _x(result: dict, values: list) -> tuple[list, bool]:
    numeric = result.get("parameter") == "mask_ratio"
    return (list(values) if numeric else list(range(len(values)))), numeric


def plot_sweep(result: dict, metric: str = "linear_probe", *, ax=None, controls: bool = True,
               label: str | None = None, color=None, true_size: bool = True):
    """One metric over the swept setting (mean +- std over seeds), controls as lines.

    Parameters
    ----------
    result : dict
        A result of :func:`~mae_theory.experiments.run_experiment`.
    metric : str
        A key of ``result["summary"]``, e.g. ``"linear_probe"``, ``"knn"``, ``"ssim"``.
    ax : matplotlib.axes.Axes, optional
    controls : bool, default True
        Draw the mean over seeds of the untrained encoder's and the raw pixels' score (when the
        result's ``controls`` hold ``init_METRIC`` / ``pixels_METRIC``) as horizontal lines.
    label, color : optional
        Legend entry and colour of the measurements.
    true_size : bool, default True
        Start the axis at 0 (and end it at 1 for accuracies and SSIM:
        :func:`true_size_limits`) instead of zooming on the data. Pair the panel with
        :func:`plot_differences` to read small differences with their intervals.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> res = {"values": [0.25, 0.75], "parameter": "mask_ratio", "smoke": True, "seeds": [0],
    ...        "summary": {"knn": {"0.25": {"mean": 0.5, "std": 0.1},
    ...                            "0.75": {"mean": 0.6, "std": 0.0}}},
    ...        "controls": [{"seed": 0, "metrics": {"pixels_knn": 0.55}}]}
    >>> ax = plot_sweep(res, "knn")
    >>> len(ax.containers), len(ax.lines) > 1, [float(y) for y in ax.get_ylim()]
    (1, True, [0.0, 1.0])
    >>> plt.close("all")
    """
    values, means, stds = sweep_points(result, metric)
    ax = _new_axes(ax, figsize=(4.6, 3.2))
    xs, numeric = _x(result, values)
    n_seeds = len(result.get("seeds", []))
    size = " (smoke size)" if result.get("smoke") else ""
    ax.errorbar(xs, means, yerr=stds, fmt="o-", capsize=3, color=color or OKABE_ITO[0],
                label=label or f"MAE{size}, mean ± sd of {n_seeds} seed{'s' * (n_seeds != 1)}")
    if controls:
        for i, (prefix, name, style) in enumerate(_CONTROLS):
            vals = [c["metrics"][prefix + metric] for c in result.get("controls", [])
                    if prefix + metric in c["metrics"]]
            if vals:
                ax.axhline(sum(vals) / len(vals), color=OKABE_ITO[4 + i], ls=style, lw=1.2,
                           label=f"{name} (control)")
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in values])
    ax.set_xlabel(_LABELS.get(result.get("parameter"), result.get("parameter", "")))
    ax.set_ylabel(_METRICS.get(metric, metric))
    if true_size:
        bottom, top = true_size_limits(metric)
        ax.set_ylim(bottom, top if top is not None else ax.get_ylim()[1])
    ax.legend(loc="lower right" if true_size else "best", fontsize="small")
    return ax


def plot_sweep_panels(result: dict, metrics=("linear_probe", "knn", "partial_ft"), *,
                      fig=None, true_size: bool = True):
    """One panel per metric of a sweep, side by side, each with its controls.

    The figure is at most :data:`MAX_WIDTH_IN` inches wide; each panel is drawn by
    :func:`plot_sweep` (at true size unless ``true_size=False``), and only the first carries
    the legend, since every panel has the same entries.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> res = {"values": [1], "parameter": "decoder_depth", "seeds": [0], "paper": {},
    ...        "summary": {"knn": {"1": {"mean": 0.5, "std": 0.0}}}}
    >>> fig = plot_sweep_panels(res, ("knn",))
    >>> len(fig.axes), bool(fig.get_figwidth() <= MAX_WIDTH_IN)
    (1, True)
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in result.get("summary", {})]
    if not metrics:
        raise ValueError("none of the metrics is in this result.")
    width = min(MAX_WIDTH_IN, 3.2 * len(metrics))
    fig = fig or plt.figure(figsize=(width, 3.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        plot_sweep(result, metric, ax=ax, color=OKABE_ITO[(2 * i) % 4], true_size=true_size,
                   label="MAE" if i else None)
        if i:
            ax.get_legend().remove()
    return fig


def plot_psnr_ssim(result: dict, *, suffix: str = "", fig=None):
    """PSNR and SSIM of reconstructions over the sweep, two panels.

    ``suffix=""`` scores every model at the common test ratio; ``"_own_ratio"`` at its own;
    ``"_unmasked"`` the decoder's output on whole images.

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


def plot_differences(result: dict, reference, metrics=("linear_probe", "knn", "partial_ft"),
                     *, ax=None, scale: float = 100.0):
    """Each setting minus the ``reference`` setting, paired by seed, on one axis.

    Markers are the mean per-seed difference, bars its 90 % t interval (the interval of the
    verdict boxes), one colour per metric, slightly offset so the bars do not overlap; a bar
    that crosses the zero line is a difference the seeds cannot tell from none.

    Parameters
    ----------
    result : dict
        A result with runs paired by seed.
    reference
        The setting every other is compared with (e.g. ``0.75``).
    metrics : sequence of str
        Accuracy metrics of ``result["runs"]``.
    ax : matplotlib.axes.Axes, optional
    scale : float, default 100
        Multiplies the differences (100: accuracy points).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> runs = [{"value": v, "seed": s, "metrics": {"knn": b + 0.01 * s}}
    ...         for v, b in ((0.1, 0.7), (0.75, 0.8)) for s in range(3)]
    >>> res = {"values": [0.1, 0.75], "parameter": "mask_ratio", "runs": runs}
    >>> ax = plot_differences(res, 0.75, ("knn",))
    >>> len(ax.containers)
    1
    >>> plt.close("all")
    """
    from ..experiments import paired_differences

    ax = _new_axes(ax, figsize=(5.2, 3.3))
    values = list(result["values"])
    xs, numeric = _x(result, values)
    step = (min(b - a for a, b in zip(xs, xs[1:])) if len(xs) > 1 else 1.0) * 0.12
    metrics = [m for m in metrics if any(m in r["metrics"] for r in result["runs"])]
    for i, metric in enumerate(metrics):
        diff = paired_differences(result, metric, reference)
        keep = [(x, diff[str(v)]) for x, v in zip(xs, values) if str(v) in diff]
        off = (i - (len(metrics) - 1) / 2) * step
        px = [x + off for x, _ in keep]
        mean = [scale * d["mean"] for _, d in keep]
        err = [[scale * (d["mean"] - d["lo"]) for _, d in keep],
               [scale * (d["hi"] - d["mean"]) for _, d in keep]]
        n = max(d["n"] for _, d in keep)
        ax.errorbar(px, mean, yerr=err, fmt="o", capsize=3, color=OKABE_ITO[(2 * i) % 8],
                    label=f"{_METRICS.get(metric, metric)} ({n} seeds)")
    ax.axhline(0.0, color="0.4", lw=1)
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in values])
    else:
        ax.set_xticks(xs)
    ax.set_xlabel(_LABELS.get(result.get("parameter"), result.get("parameter", "")))
    unit = "points" if scale == 100.0 else f"x {scale:g}"
    ax.set_ylabel(f"difference from {reference} ({unit})")
    ax.legend(loc="best", fontsize="small")
    return ax


def readout_toy(kind: str, n: int = 600, *, seed: int = 0):
    """Toy 2-D features on a noisy unit circle, labelled by angle: ``(features, labels)``.

    ``kind="halves"``: the class is the half-plane (a direction separates the classes);
    ``kind="sectors"``: alternating quarter sectors (an XOR: no direction separates them, but
    neighbours by angle, which a cosine k-NN reads, share their class). For the picture of how
    a linear probe and a k-NN vote read features (chapter 9).

    Examples
    --------
    >>> z, y = readout_toy("sectors", 8)
    >>> tuple(z.shape), sorted(set(y.tolist())) <= [0, 1]
    ((8, 2), True)
    """
    import torch

    if kind not in ("halves", "sectors"):
        raise ValueError(f"kind must be 'halves' or 'sectors'; got {kind!r}.")
    gen = torch.Generator().manual_seed(seed)
    angle = 2 * torch.pi * torch.rand(n, generator=gen)
    radius = 1 + 0.1 * torch.randn(n, generator=gen)
    z = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    sector = (angle // (torch.pi / 2)).long()
    y = (sector // 2) if kind == "halves" else (sector % 2)
    return z, y


def plot_readout_geometry(toys: dict, accuracies: dict | None = None, *, fig=None):
    """One panel per toy feature set, points coloured by class, readout accuracies in the title.

    ``toys`` maps a name to ``(features (N, 2), labels (N,))`` (:func:`readout_toy`);
    ``accuracies`` maps the same name to ``{readout: accuracy}``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_readout_geometry({"halves": readout_toy("halves", 50)},
    ...                             {"halves": {"linear probe": 0.98, "k-NN": 0.97}})
    >>> len(fig.axes), bool(fig.get_figwidth() <= MAX_WIDTH_IN)
    (1, True)
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    fig = fig or plt.figure(figsize=(min(MAX_WIDTH_IN, 3.1 * len(toys)), 3.4),
                            layout="constrained")
    axes = fig.subplots(1, len(toys), squeeze=False)[0]
    for ax, (name, (z, y)) in zip(axes, toys.items()):
        z, y = z.numpy(), y.numpy()
        for c, marker in ((0, "o"), (1, "^")):
            ax.scatter(*z[y == c].T, s=9, marker=marker, color=OKABE_ITO[4 * c],
                       label=f"class {c}")
        scores = (accuracies or {}).get(name, {})
        ax.set_title(name + "".join(f"\n{k}: {100 * v:.0f} %" for k, v in scores.items()),
                     fontsize="small")
        ax.set_aspect("equal")
        ax.set_xlabel("feature 1")
    axes[0].set_ylabel("feature 2")
    axes[0].legend(fontsize="small", loc="center")
    return fig
