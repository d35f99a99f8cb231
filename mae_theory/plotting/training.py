"""Figures of training runs and sweeps: loss curves, error against the masking ratio."""

from __future__ import annotations

from .style import _new_axes, _np


def plot_loss_curve(history, *, ax=None, label: str | None = None, show_lr: bool = False,
                    lr_ax=None):
    r"""Training loss against step on a log scale (and the learning rate in its own panel).

    The learning rate $\eta$ is never drawn on a second y-axis of the loss panel: two scales on
    one panel make any two curves look related. With ``show_lr=True`` it gets a panel of its
    own below the loss, sharing the step axis.

    Parameters
    ----------
    history : list of dict
        One dict per logged step with keys ``"step"`` and ``"loss"`` (``"lr"`` optional), as in
        ``TrainResult.history``.
    ax : matplotlib.axes.Axes, optional
        Draw into it (several curves on one axes: call again with ``label=``).
    label : str, optional
        Legend entry for this curve.
    show_lr : bool, default False
        Also draw ``"lr"`` (the schedule $\eta$), in ``lr_ax`` or, when neither ``ax`` nor
        ``lr_ax`` is given, in a second panel below the loss (a new two-row figure).
    lr_ax : matplotlib.axes.Axes, optional
        The panel for the learning rate; needed with ``show_lr=True`` when ``ax`` is given.

    Returns
    -------
    matplotlib.axes.Axes
        The loss panel (the learning-rate panel is ``ax.figure.axes[1]`` when it was made here).

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> hist = [{"step": s, "loss": 1.0 / (s + 1), "lr": 1e-3} for s in range(10)]
    >>> ax = plot_loss_curve(hist, label="digits")
    >>> ax.get_yscale(), len(ax.lines)
    ('log', 1)
    >>> ax = plot_loss_curve(hist, show_lr=True)  # two stacked panels, no twin axis
    >>> [a.get_ylabel() for a in ax.figure.axes]
    ['loss', 'learning rate $\\eta$']
    >>> plt.close("all")
    """
    if len(history) == 0:
        raise ValueError("history is empty; it needs dicts with keys 'step' and 'loss'.")
    keys = ("step", "loss", "lr") if show_lr else ("step", "loss")
    missing = sorted({k for row in history for k in keys if k not in row})
    if missing:
        raise ValueError(f"every history entry needs the keys {keys}; missing {missing}.")
    step = [float(row["step"]) for row in history]
    if show_lr and lr_ax is None:
        if ax is not None:
            raise ValueError("show_lr=True draws the learning rate in its own panel (no twin "
                             "axes); pass lr_ax=, or leave ax out to get a two-panel figure.")
        import matplotlib.pyplot as plt

        _, (ax, lr_ax) = plt.subplots(2, 1, figsize=(5.2, 4.2), sharex=True,
                                        height_ratios=(2.2, 1.0), layout="constrained")
    ax = _new_axes(ax)
    ax.plot(step, [float(row["loss"]) for row in history], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if show_lr:
        lr_ax.plot(step, [float(row["lr"]) for row in history], color="0.3")
        lr_ax.set_ylim(bottom=0.0)
        lr_ax.set_xlabel("step")
        lr_ax.set_ylabel(r"learning rate $\eta$")
        if lr_ax.get_shared_x_axes().joined(ax, lr_ax):
            ax.set_xlabel("")
    if label is not None:
        ax.legend()
    return ax


def plot_ratio_sweep(ratios, values, *, baseline: float | None = None, ax=None,
                     ylabel: str = "value", xlabel: str = r"mask ratio $r$",
                     label: str | None = None, baseline_label: str = "baseline"):
    """A measurement against the mask ratio: markers, mean +- std over seeds when 2-D.

    Parameters
    ----------
    ratios : array-like, shape (R,)
        The mask ratios ``r`` (or any swept parameter; set ``xlabel``).
    values : array-like, shape (R,) or (S, R)
        One value per ratio, or one row per seed; rows give error bars of one standard
        deviation (``ddof=1``) around the mean.
    baseline : float, optional
        Drawn as a dashed horizontal line (e.g. a probe on raw pixels).
    ax : matplotlib.axes.Axes, optional
    ylabel, xlabel, label, baseline_label : str

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> vals = np.array([[0.80, 0.85, 0.83], [0.82, 0.86, 0.81]])
    >>> ax = plot_ratio_sweep([0.5, 0.75, 0.9], vals, baseline=0.78, ylabel="accuracy")
    >>> len(ax.containers), ax.get_legend_handles_labels()[1]  # one error-bar set
    (1, ['baseline'])
    >>> plt.close("all")
    """
    r, v = _np(ratios).reshape(-1), _np(values)
    if v.ndim not in (1, 2) or v.shape[-1] != r.size or r.size == 0:
        raise ValueError(f"values must have shape (R,) or (S, R) with R = len(ratios) = "
                         f"{r.size} >= 1; got {v.shape}. Put seeds on the first axis.")
    spread = v.std(axis=0, ddof=1) if v.ndim == 2 and v.shape[0] > 1 else None
    mean = v.mean(axis=0) if v.ndim == 2 else v
    ax = _new_axes(ax)
    ax.errorbar(r, mean, yerr=spread, fmt="o", capsize=3, label=label)
    if baseline is not None:
        ax.axhline(float(baseline), color="0.3", linestyle="--", linewidth=1.2,
                   label=baseline_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if label is not None or baseline is not None:
        ax.legend()
    return ax
