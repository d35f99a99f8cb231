"""Masked prediction in a hidden Markov model: when does the task identify the parameters?

Liu, Hsu, Ravikumar & Risteski (2022) ask whether the *optimal predictor* of a masked-prediction
task determines the parameters of the model that generated the data. This module holds a
discrete HMM of length 2 or 3,

.. math:: \\Pr(x_{1:3}) = \\sum_{z_{1:3}} \\pi_{z_1} \\prod_{t \\ge 2} \\Theta_{z_{t-1} z_t}
          \\prod_{t} O_{x_t z_t}

(or the same with two tokens), with hidden states :math:`z_t` taking ``K`` values, transitions
:math:`\\Theta`, and symbols :math:`a` of an alphabet :math:`\\Sigma`
(``O[a, z] = P(x_t = a | z_t = z)``; the code's ``n_symbols`` is :math:`|\\Sigma|`), and the
pieces of this book's reconstruction of their result:

- the optimal predictor of x2 from x1 depends on the parameters only through the pair table
  :math:`\\Pr(x_1, x_2) = O \\Theta_\\pi O^\\top` with
  :math:`\\Theta_\\pi = \\operatorname{diag}(\\pi) \\Theta`, so every :math:`O' = O S`,
  :math:`\\Theta_\\pi' = S^{-1} \\Theta_\\pi S^{-\\top}` (with :math:`1^\\top S = 1^\\top`)
  gives the same predictor (:func:`pairwise_twin`);
- the predictor of the pair (x2, x3) from x1 fixes the whole triple table, a three-way tensor whose
  decomposition is unique (Kruskal), so it pins the parameters down up to relabelling the states.

:func:`fit_hmm` fits an HMM to counts of pairs or triples by expectation-maximisation, to see
both cases from data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from .checks import as_float_array, check_float, check_int, describe
from .runtime import SeedLike, make_generator


@dataclass(frozen=True)
class HMM:
    """Parameters of a discrete HMM.

    Attributes
    ----------
    initial : numpy.ndarray, shape (K,)
        ``pi``, distribution of the first hidden state :math:`z_1`.
    transition : numpy.ndarray, shape (K, K)
        :math:`\\Theta`: ``Theta[z, z'] = P(z_{t+1} = z' | z_t = z)`` (rows sum to one).
    emission : numpy.ndarray, shape (n_symbols, K)
        :math:`O`: ``O[a, z] = P(x_t = a | z_t = z)`` for symbols ``a`` of the alphabet
        :math:`\\Sigma`, ``n_symbols`` of them (columns sum to one).
    """

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    def __post_init__(self):
        pi, t, o = (_as_floats(name, a) for name, a in
                    (("initial", self.initial), ("transition", self.transition),
                     ("emission", self.emission)))
        k = pi.shape[0] if pi.ndim == 1 else -1
        if (pi.ndim != 1 or k < 1 or t.shape != (k, k) or o.ndim != 2 or o.shape[1] != k
                or o.shape[0] < 1):
            raise ValueError(
                "HMM needs initial pi (K,), transition Theta (K, K) and emission O (|Sigma|, K); "
                f"got {pi.shape}, {t.shape}, {o.shape}."
            )
        for name, arr, axis in (("initial pi", pi, 0), ("transition Theta (rows)", t, 1),
                                ("emission O (columns)", o, 0)):
            if (not np.isfinite(arr).all() or np.any(arr < -1e-12)
                    or not np.allclose(arr.sum(axis=axis), 1.0, atol=1e-8)):
                raise ValueError(
                    f"{name} must be non-negative and sum to one; got sums "
                    f"{np.round(arr.sum(axis=axis), 6).tolist()}. Normalise it."
                )
        object.__setattr__(self, "initial", pi)
        object.__setattr__(self, "transition", t)
        object.__setattr__(self, "emission", o)

    @property
    def n_states(self) -> int:
        return self.initial.shape[0]

    @property
    def n_symbols(self) -> int:
        return self.emission.shape[0]


def _as_floats(name: str, value) -> np.ndarray:
    return as_float_array(name, value, "an array of probabilities")


def _check_hmm(hmm) -> HMM:
    if not isinstance(hmm, HMM):
        raise TypeError(f"hmm must be an HMM (e.g. random_hmm(3, 4, seed=0)); got "
                        f"{describe(hmm)}.")
    return hmm


def _check_length(length: int) -> int:
    return check_int("length", length, low=2, high=3, symbol="sequence length T",
                     fix="This module handles pairs and triples only.")


def joint_table(hmm: HMM, length: int = 3) -> np.ndarray:
    """Exact distribution of ``(x_1, ..., x_length)``, shape ``(|Sigma|,) * length``.

    Examples
    --------
    >>> hmm = random_hmm(2, 3, seed=0)
    >>> round(float(joint_table(hmm, 3).sum()), 12)
    1.0
    """
    length = _check_length(length)
    pi, t, o = _check_hmm(hmm).initial, hmm.transition, hmm.emission
    if length == 2:
        return np.einsum("a,ab,xa,yb->xy", pi, t, o, o)
    return np.einsum("a,ab,bc,xa,yb,zc->xyz", pi, t, t, o, o, o)


def pairwise_conditional(hmm: HMM) -> np.ndarray:
    """The optimal predictor of x2 from x1: ``P(x_2 = b | x_1 = a)``, shape ``(|Sigma|,) * 2``.

    A symbol that never occurs has an undefined row (0/0): the table is then NaN there.
    """
    pair = joint_table(hmm, 2)
    return pair / pair.sum(axis=1, keepdims=True)


def triplet_conditional(hmm: HMM) -> np.ndarray:
    """The optimal predictor of (x2, x3) from x1: ``P(x_2, x_3 | x_1)``, shape ``(|Sigma|,)*3``."""
    triple = joint_table(hmm, 3)
    return triple / triple.sum(axis=(1, 2), keepdims=True)


def random_hmm(n_states: int, n_symbols: int, *, seed: SeedLike = None) -> HMM:
    """An HMM whose rows are uniform on the simplex (Dirichlet(1)), on a seeded generator.

    Examples
    --------
    >>> random_hmm(3, 4, seed=0).emission.shape
    (4, 3)
    """
    n_states = check_int("n_states", n_states, symbol="K")
    n_symbols = check_int("n_symbols", n_symbols, symbol="V")
    gen = make_generator(seed)

    def dirichlet(shape):  # normalised exponentials are Dirichlet(1)
        g = -torch.log(torch.rand(*shape, generator=gen, dtype=torch.float64))
        return (g / g.sum(dim=-1, keepdim=True)).numpy()

    return HMM(dirichlet((n_states,)), dirichlet((n_states, n_states)),
               dirichlet((n_states, n_symbols)).T)


def pairwise_twin(hmm: HMM, direction, step: float = 1.0) -> HMM:
    """A different HMM with exactly the same pair table ``P(x_1, x_2)``.

    With ``S = I + step * G`` and ``G`` the ``direction`` with its column means removed (so
    :math:`1^\\top S = 1^\\top`), the twin has :math:`O' = O S` and
    :math:`\\Theta_\\pi' = S^{-1} \\Theta_\\pi S^{-\\top}` with
    :math:`\\Theta_\\pi = \\operatorname{diag}(\\pi)\\Theta`, hence
    :math:`O' \\Theta_\\pi' O'^\\top = O \\Theta_\\pi O^\\top`; then
    :math:`\\pi' = \\Theta_\\pi' 1` and
    :math:`\\Theta' = \\operatorname{diag}(\\pi')^{-1} \\Theta_\\pi'`.

    Raises
    ------
    ValueError
        If the step makes a probability negative (use a smaller ``step``).

    Examples
    --------
    >>> hmm = random_hmm(3, 4, seed=1)
    >>> twin = pairwise_twin(hmm, np.eye(3)[[1, 2, 0]], 0.05)
    >>> bool(np.allclose(pairwise_conditional(twin), pairwise_conditional(hmm)))
    True
    """
    k = _check_hmm(hmm).n_states
    g = _as_floats("direction", direction)
    if g.shape != (k, k) or not np.isfinite(g).all():
        raise ValueError(f"direction G must be a finite (K, K) = ({k}, {k}) matrix; got "
                         f"{describe(g)}.")
    step = check_float("step", step)
    g = g - g.mean(axis=0, keepdims=True)
    s = np.eye(k) + step * g
    joint = np.diag(hmm.initial) @ hmm.transition
    try:
        s_inv = np.linalg.inv(s)
    except np.linalg.LinAlgError:
        raise ValueError(f"step {step} makes S = I + step * G singular; use a smaller step or "
                         "another direction.") from None
    joint2 = s_inv @ joint @ s_inv.T
    emission2 = hmm.emission @ s
    if joint2.min() < 0 or emission2.min() < 0:
        raise ValueError(
            f"step {step} leaves the probability simplex (min Theta_pi' = "
            f"{joint2.min():.3g}, min O' = {emission2.min():.3g}); use a smaller step."
        )
    pi2 = joint2.sum(axis=1)
    return HMM(pi2, joint2 / pi2[:, None], emission2)


def sample_hmm(hmm: HMM, n: int, length: int = 3, *, seed: SeedLike = None) -> torch.Tensor:
    """Draw ``n`` sequences ``(x_1, ..., x_length)``, a long tensor of shape (n, length).

    Examples
    --------
    >>> sample_hmm(random_hmm(2, 3, seed=0), 5, 3, seed=0).shape
    torch.Size([5, 3])
    """
    length = _check_length(length)
    _check_hmm(hmm)
    n = check_int("n", n, symbol="number of sequences")
    gen = make_generator(seed)
    t = torch.as_tensor(hmm.transition)
    o = torch.as_tensor(hmm.emission.T)  # (K, V): rows are P(x | h)
    h = torch.multinomial(torch.as_tensor(hmm.initial).expand(n, -1), 1, generator=gen)[:, 0]
    xs = []
    for step in range(length):
        if step > 0:
            h = torch.multinomial(t[h], 1, generator=gen)[:, 0]
        xs.append(torch.multinomial(o[h], 1, generator=gen)[:, 0])
    return torch.stack(xs, dim=1)


def count_table(sequences: torch.Tensor, n_symbols: int) -> np.ndarray:
    """Counts of each observed tuple, an array of shape ``(|Sigma|,) * length``."""
    n_symbols = check_int("n_symbols", n_symbols, symbol="V")
    if isinstance(sequences, np.ndarray):
        sequences = torch.from_numpy(sequences)
    if not isinstance(sequences, torch.Tensor):
        raise TypeError(f"sequences must be a tensor (or numpy array) of symbols (n, T); got "
                        f"{describe(sequences)}.")
    if sequences.is_floating_point() or sequences.is_complex() or sequences.dtype == torch.bool:
        raise TypeError(f"sequences must hold integer symbols; got {describe(sequences)}. "
                        "Convert them with .long() if they are whole numbers.")
    seq = sequences.long()
    if (seq.numel() == 0 or seq.ndim != 2 or seq.shape[1] not in (2, 3) or seq.min() < 0
            or seq.max() >= n_symbols):
        raise ValueError(
            f"sequences must be (n, T) symbols in [0, V={n_symbols}) with T in {{2, 3}}; got "
            f"shape {tuple(seq.shape)}."
        )
    flat = torch.zeros(n_symbols ** seq.shape[1], dtype=torch.float64)
    idx = sum(seq[:, t] * n_symbols ** (seq.shape[1] - 1 - t) for t in range(seq.shape[1]))
    flat.index_add_(0, idx, torch.ones(len(idx), dtype=torch.float64))
    return flat.reshape((n_symbols,) * seq.shape[1]).numpy()


def fit_hmm(counts, n_states: int, *, iters: int = 500, seed: SeedLike = None):
    """Maximum-likelihood HMM for a table of pair or triple counts, by EM.

    The E-step enumerates the ``K^length`` hidden paths :math:`z_{1:3}` (or :math:`z_{1:2}`) of
    every observed cell; the M-step sets :math:`\\pi`, :math:`\\Theta` and :math:`O` to their
    expected counts, normalised. Starts from
    :func:`random_hmm` (``seed``).

    Returns
    -------
    hmm : HMM
    log_likelihood : float
        Average log-likelihood per sequence.

    Examples
    --------
    >>> true = random_hmm(2, 3, seed=0)
    >>> counts = count_table(sample_hmm(true, 2000, 3, seed=1), 3)
    >>> fitted, ll = fit_hmm(counts, 2, iters=50, seed=0)
    >>> fitted.emission.shape, ll < 0
    ((3, 2), True)
    """
    counts = _as_floats("counts", counts)
    if counts.ndim not in (2, 3) or len(set(counts.shape)) != 1:
        raise ValueError(f"counts must be a (V, V) or (V, V, V) table of pair or triple counts "
                         f"(count_table); got shape {counts.shape}.")
    if not np.isfinite(counts).all() or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero.")
    n_states = check_int("n_states", n_states, symbol="K")
    iters = check_int("iters", iters, low=0)
    v, length = counts.shape[0], counts.ndim
    model = random_hmm(n_states, v, seed=seed)
    pi, t, o = model.initial, model.transition, model.emission
    paths = np.array(list(itertools.product(range(n_states), repeat=length)))  # (P, T)
    cells = np.array(list(itertools.product(range(v), repeat=length)))  # (C, T)
    c = counts.reshape(-1)
    total = c.sum()
    for step in range(iters + 1):
        prior = pi[paths[:, 0]] * np.prod(
            [t[paths[:, s - 1], paths[:, s]] for s in range(1, length)], axis=0)  # (P,)
        lik = np.prod([o[cells[:, s][:, None], paths[:, s][None]] for s in range(length)],
                      axis=0)  # (C, P)
        joint = lik * prior[None]
        px = joint.sum(axis=1)
        ll = float((c * np.log(np.maximum(px, 1e-300))).sum() / total)
        w = joint * (c / np.maximum(px, 1e-300))[:, None]  # expected counts of (cell, path)
        if step == iters:
            break
        pw = w.sum(axis=0)
        pi = np.bincount(paths[:, 0], pw, n_states) / total
        tc = np.zeros((n_states, n_states))
        oc = np.zeros((v, n_states))
        for s in range(length):
            if s > 0:
                np.add.at(tc, (paths[:, s - 1], paths[:, s]), pw)
            np.add.at(oc, (cells[:, s][:, None].repeat(len(paths), 1),
                           paths[:, s][None].repeat(len(cells), 0)), w)
        t = tc / np.maximum(tc.sum(axis=1, keepdims=True), 1e-300)
        o = oc / np.maximum(oc.sum(axis=0, keepdims=True), 1e-300)
    return HMM(pi / pi.sum(), t, o), ll


def parameter_error(fitted: HMM, true: HMM) -> float:
    """Largest absolute error in ``O`` and ``Theta``, after the best relabelling of states.

    Examples
    --------
    >>> hmm = random_hmm(3, 4, seed=0)
    >>> perm = [2, 0, 1]
    >>> relabelled = HMM(hmm.initial[perm], hmm.transition[np.ix_(perm, perm)],
    ...                  hmm.emission[:, perm])
    >>> parameter_error(relabelled, hmm)
    0.0
    """
    _check_hmm(fitted)
    _check_hmm(true)
    if fitted.emission.shape != true.emission.shape:
        raise ValueError(
            f"the HMMs differ in (V, K): {fitted.emission.shape} vs {true.emission.shape}."
        )
    best = np.inf
    for perm in itertools.permutations(range(true.n_states)):
        p = list(perm)
        err = max(np.abs(fitted.emission[:, p] - true.emission).max(),
                  np.abs(fitted.transition[np.ix_(p, p)] - true.transition).max())
        best = min(best, float(err))
    return best
