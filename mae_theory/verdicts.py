"""Pre-registered claims and their computed verdicts.

A chapter declares a :class:`Claim` *before* its experiment runs: what the theory predicts, the
statistic, the decision rule and the number of seeds. After the run, :func:`judge` turns the
measurements into a :class:`Verdict` -- ``confirmed``, ``not confirmed`` or ``inconclusive`` --
with the effect, its interval, ``n`` and the smallest effect the design could detect. Nobody
types the verdict word: it comes from the numbers and the rule fixed beforehand.

Three rules cover the book's claims:

* :class:`PairedTest` -- a one-sided paired *t*-test over seeds at level ``alpha``: "A is larger
  than B" (a trained model beats its control, a ratio beats another).
* :class:`Equivalence` -- two one-sided tests (TOST) with a stated ``margin``: "no difference",
  "symmetric".
* :class:`Tolerance` -- an exact prediction checked to a stated tolerance.

A claim can name controls (a random-init model, the mean patch, raw pixels). Each control is
judged with the same rule; if a control also passes, the claim is **not confirmed**: whatever
produced the effect, it was not the thing the claim is about.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .checks import as_float_array, check_float, check_int

__all__ = ["Claim", "Equivalence", "PairedTest", "Tolerance", "Verdict", "judge", "t_interval"]

WORDS = ("confirmed", "not confirmed", "inconclusive")
SOURCES = ("Kong", "Cao", "He", "other", "this book")


@dataclass(frozen=True)
class PairedTest:
    """One-sided paired *t*-test of ``treatment - baseline`` over seeds.

    Attributes
    ----------
    alpha : float
        Level of the one-sided test (the chance of a false "confirmed" with no true effect).
    direction : {"greater", "less"}
        The sign the theory predicts for ``treatment - baseline``.
    smallest_effect : float
        The smallest effect (in the statistic's units, >= 0) that would matter. An upper
        confidence bound below it reads "not confirmed"; 0 means any positive effect counts.
    """

    alpha: float = 0.05
    direction: str = "greater"
    smallest_effect: float = 0.0

    def __post_init__(self):
        check_float("alpha", self.alpha, low=0, high=0.5, low_open=True, high_open=True)
        if self.direction not in ("greater", "less"):
            raise ValueError(f"direction must be 'greater' or 'less'; got {self.direction!r}.")
        check_float("smallest_effect", self.smallest_effect, low=0)

    def describe(self) -> str:
        sign = ">" if self.direction == "greater" else "<"
        return f"one-sided paired t-test, effect {sign} 0 at alpha = {self.alpha:g}"


@dataclass(frozen=True)
class Equivalence:
    """Equivalence by two one-sided tests: ``|treatment - baseline| < margin``.

    Confirmed when the ``1 - 2 alpha`` interval of the mean difference lies inside
    ``(-margin, margin)``; not confirmed when it lies wholly outside.
    """

    margin: float
    alpha: float = 0.05

    def __post_init__(self):
        check_float("margin", self.margin, low=0, low_open=True)
        check_float("alpha", self.alpha, low=0, high=0.5, low_open=True, high_open=True)

    def describe(self) -> str:
        return f"equivalence (TOST), margin {self.margin:g} at alpha = {self.alpha:g}"


@dataclass(frozen=True)
class Tolerance:
    """An exact prediction ``target``, met when the interval of the mean lies within ``tol``.

    With one measurement (a deterministic computation) the interval is the value itself.
    """

    target: float
    tol: float
    alpha: float = 0.05

    def __post_init__(self):
        check_float("target", self.target)
        check_float("tol", self.tol, low=0)
        check_float("alpha", self.alpha, low=0, high=0.5, low_open=True, high_open=True)

    def describe(self) -> str:
        return f"|value - {self.target:g}| <= {self.tol:g}"


Rule = PairedTest | Equivalence | Tolerance


@dataclass(frozen=True)
class Claim:
    """A claim declared before its experiment runs.

    Attributes
    ----------
    key : str
        Short unique id, e.g. ``"ch1-beats-mean-patch"``; the ledger links to it.
    chapter : str
        Where the claim is tested, e.g. ``"1"``.
    source : str
        Whose claim it is: one of ``"Kong"``, ``"Cao"``, ``"He"``, ``"other"``, ``"this book"``.
    statement : str
        The claim in one sentence.
    prediction : str
        What the theory predicts for the statistic, in words.
    statistic : str
        What is measured (units included).
    rule : PairedTest, Equivalence or Tolerance
        The decision rule.
    n_seeds : int
        The number of seeds the design uses, fixed here.
    controls : tuple of str
        Names of the controls that must *fail* the same rule (e.g. ``("random init",)``).
    """

    key: str
    chapter: str
    source: str
    statement: str
    prediction: str
    statistic: str
    rule: Rule
    n_seeds: int
    controls: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty string; got {self.key!r}.")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}; got {self.source!r}.")
        if not isinstance(self.rule, (PairedTest, Equivalence, Tolerance)):
            raise TypeError("rule must be a PairedTest, Equivalence or Tolerance; got "
                            f"{type(self.rule).__name__}.")
        check_int("n_seeds", self.n_seeds, low=1)
        if isinstance(self.rule, (PairedTest, Equivalence)) and self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a {type(self.rule).__name__}; got "
                             f"{self.n_seeds}. Use Tolerance for a single deterministic value.")
        object.__setattr__(self, "controls", tuple(self.controls))


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`judge`: a word, the effect with its interval, and why."""

    claim: Claim
    word: str
    effect: float
    interval: tuple[float, float]
    n: int
    detectable: float | None
    reason: str
    controls: dict = field(default_factory=dict)

    @property
    def confirmed(self) -> bool:
        return self.word == "confirmed"

    def numbers(self) -> str:
        """The effect, interval and n in one phrase."""
        lo, hi = self.interval
        level = 100 * (1 - 2 * self.claim.rule.alpha)
        return (f"effect {self.effect:.4g}, {level:.0f} % interval [{lo:.4g}, {hi:.4g}], "
                f"n = {self.n}")

    def to_dict(self) -> dict:
        """A JSON-ready record, one row of the claims ledger."""
        c = self.claim
        return {
            "key": c.key, "chapter": c.chapter, "source": c.source, "statement": c.statement,
            "prediction": c.prediction, "statistic": c.statistic, "rule": c.rule.describe(),
            "n_seeds": c.n_seeds, "word": self.word, "effect": self.effect,
            "interval": list(self.interval), "n": self.n, "detectable": self.detectable,
            "reason": self.reason,
            "controls": {k: {"word": v["word"], "effect": v["effect"]}
                         for k, v in self.controls.items()},
        }

    def expect(self, word: str) -> Verdict:
        """The regression guard: fail unless this run gives the committed verdict ``word``.

        A chapter calls ``verdict.expect("not confirmed")`` with the word its prose was written
        for, so a changed outcome fails nbval instead of leaving the text wrong. Returns
        ``self`` so the verdict box still displays.
        """
        if word not in WORDS:
            raise ValueError(f"word must be one of {WORDS}; got {word!r}.")
        if self.word != word:
            raise AssertionError(
                f"claim {self.claim.key!r}: the committed chapter says {word!r} but this run "
                f"gives {self.word!r} ({self.numbers()}; {self.reason}). The outcome changed: "
                "re-read the prose around this claim, then update the expected word.")
        return self

    def glue(self) -> Verdict:
        """Glue the word and numbers for the prose (myst-nb), as ``KEY-word``, ``KEY-effect``,
        ``KEY-interval``, ``KEY-n`` and ``KEY-reason``; returns ``self``."""
        from myst_nb import glue

        lo, hi = self.interval
        for name, value in [("word", self.word), ("effect", f"{self.effect:.3g}"),
                            ("interval", f"[{lo:.3g}, {hi:.3g}]"), ("n", str(self.n)),
                            ("reason", self.reason)]:
            glue(f"{self.claim.key}-{name}", value, display=False)
        return self

    def _repr_html_(self) -> str:
        colour = {"confirmed": "#1b7837", "not confirmed": "#b2182b",
                  "inconclusive": "#8c6d1f"}[self.word]
        c = self.claim
        ctrl = "".join(
            f"<li>control <em>{html.escape(k)}</em>: {v['word']} "
            f"(effect {v['effect']:.4g})</li>" for k, v in self.controls.items())
        detect = ("" if self.detectable is None else
                  f"<li>this design detects effects of about {self.detectable:.3g} "
                  "(80 % power)</li>")
        record = json.dumps(self.to_dict()).replace("</", "<\\/")
        return (
            f'<div class="mae-verdict" id="claim-{html.escape(c.key)}" '
            f'data-key="{html.escape(c.key)}" '
            f'style="border-left:5px solid {colour};padding:0.4em 0.8em;margin:0.5em 0;">'
            f'<strong style="color:{colour}">{self.word.upper()}</strong> &mdash; '
            f"{html.escape(c.statement)} <small>({html.escape(c.source)})</small>"
            f"<ul style='margin:0.3em 0'><li>prediction: {html.escape(c.prediction)}</li>"
            f"<li>rule: {html.escape(c.rule.describe())}; statistic: "
            f"{html.escape(c.statistic)}</li><li>{self.numbers()}</li>{detect}{ctrl}"
            f"<li>{html.escape(self.reason)}</li></ul>"
            f'<script type="application/json" class="mae-claim">{record}</script></div>')

    def __repr__(self) -> str:
        return f"Verdict({self.claim.key!r}: {self.word}; {self.numbers()})"


def _as_values(name: str, values) -> np.ndarray:
    arr = as_float_array(name, values, "measurements (a sequence of numbers, one per seed)"
                         ).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one measurement; got none.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr.tolist()}. A diverged run is a "
                         "failed run: fix it or exclude it before judging, and say so.")
    return arr


def _t_interval(d: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Mean and the two-sided ``1 - 2 alpha`` t interval (one-sided bounds at level alpha)."""
    n = d.size
    mean = float(d.mean())
    if n < 2:
        return mean, mean, mean
    se = float(d.std(ddof=1)) / math.sqrt(n)
    q = float(stats.t.ppf(1 - alpha, n - 1))
    return mean, mean - q * se, mean + q * se


def t_interval(values, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of ``values`` and its two-sided ``1 - 2 alpha`` t interval (90 % by default).

    The interval every verdict box reports, for figures and tables that show the same numbers.

    Examples
    --------
    >>> mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    >>> mean, round(lo, 3), round(hi, 3)
    (2.0, 0.314, 3.686)
    """
    return _t_interval(_as_values("values", values), alpha)


def _detectable(d: np.ndarray, alpha: float) -> float | None:
    n = d.size
    if n < 2:
        return None
    se = float(d.std(ddof=1)) / math.sqrt(n)
    return float((stats.t.ppf(1 - alpha, n - 1) + stats.t.ppf(0.8, n - 1)) * se)


def _decide(rule: Rule, d: np.ndarray) -> tuple[str, float, tuple[float, float], float | None,
                                                 str]:
    if isinstance(rule, PairedTest):
        sign = 1.0 if rule.direction == "greater" else -1.0
        mean, lo, hi = _t_interval(sign * d, rule.alpha)
        detect = _detectable(d, rule.alpha)
        if lo > 0 and hi >= rule.smallest_effect:
            word = "confirmed"
            why = f"the one-sided {100 * (1 - rule.alpha):.0f} % confidence bound excludes zero"
        elif mean <= 0 or hi < rule.smallest_effect:
            word = "not confirmed"
            why = ("the effect goes the other way" if mean <= 0 else
                   f"the effect is below the smallest that matters ({rule.smallest_effect:g})")
        else:
            word, why = "inconclusive", "right direction, but the interval still includes zero"
        interval = (lo, hi) if sign > 0 else (-hi, -lo)
        return word, sign * mean, interval, detect, why
    if isinstance(rule, Equivalence):
        mean, lo, hi = _t_interval(d, rule.alpha)
        if -rule.margin < lo and hi < rule.margin:
            word, why = "confirmed", f"the interval lies within +/-{rule.margin:g}"
        elif lo >= rule.margin or hi <= -rule.margin:
            word, why = "not confirmed", f"the interval lies outside +/-{rule.margin:g}"
        else:
            word, why = "inconclusive", f"the interval straddles the margin {rule.margin:g}"
        return word, mean, (lo, hi), _detectable(d, rule.alpha), why
    mean, lo, hi = _t_interval(d, rule.alpha)
    low, high = rule.target - rule.tol, rule.target + rule.tol
    if low <= lo and hi <= high:
        word, why = "confirmed", f"within {rule.tol:g} of the prediction {rule.target:g}"
    elif hi < low or lo > high:
        word, why = "not confirmed", f"outside {rule.tol:g} of the prediction {rule.target:g}"
    else:
        word, why = "inconclusive", "the interval straddles the tolerance"
    return word, mean, (lo, hi), None, why


def judge(claim: Claim, treatment, baseline=None, *, controls: dict | None = None) -> Verdict:
    """Judge a declared claim on measurements, one per seed.

    Parameters
    ----------
    claim : Claim
        Declared before the run.
    treatment : array-like, shape (n,)
        The statistic per seed for the thing the claim is about.
    baseline : array-like, shape (n,), optional
        The paired comparison per seed (same seeds, same order); the rule judges
        ``treatment - baseline``. Omit for :class:`Tolerance` rules on a value itself.
    controls : dict, optional
        ``{name: (control_treatment, control_baseline)}`` judged with the same rule; names must
        be the claim's declared controls. A control that passes makes the claim not confirmed.

    Returns
    -------
    Verdict

    Examples
    --------
    >>> claim = Claim("demo", "1", "this book", "A beats B", "A > B", "score",
    ...               PairedTest(alpha=0.05), n_seeds=5, controls=("random init",))
    >>> v = judge(claim, [3.1, 3.0, 3.2, 3.3, 3.1], [2.0, 2.1, 2.0, 2.2, 2.1],
    ...           controls={"random init": ([2.0, 2.1, 1.9, 2.0, 2.1], [2.0, 2.1, 2.0, 2.2, 2.1])})
    >>> v.word, round(v.effect, 2)
    ('confirmed', 1.06)
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a Claim; got {type(claim).__name__}.")
    t = _as_values("treatment", treatment)
    if baseline is None:
        if not isinstance(claim.rule, Tolerance):
            raise ValueError(f"baseline is required for a {type(claim.rule).__name__}: pass the "
                             "paired measurements (same seeds, same order).")
        d = t
    else:
        b = _as_values("baseline", baseline)
        if b.shape != t.shape:
            raise ValueError(f"baseline must pair with treatment (same seeds); got {b.size} "
                             f"values for {t.size}.")
        d = t - b
    if d.size != claim.n_seeds:
        raise ValueError(f"claim {claim.key!r} was declared with n_seeds={claim.n_seeds}; got "
                         f"{d.size} measurements. Run the declared design, or declare a new "
                         "claim before running another.")
    word, effect, interval, detect, why = _decide(claim.rule, d)
    controls = dict(controls or {})
    unknown = set(controls) - set(claim.controls)
    missing = set(claim.controls) - set(controls)
    if unknown or missing:
        raise ValueError(f"controls must be exactly the declared {claim.controls}; missing "
                         f"{sorted(missing)}, undeclared {sorted(unknown)}.")
    judged = {}
    for name, pair in controls.items():
        ct, cb = pair if isinstance(pair, tuple) else (pair, None)
        ct = _as_values(f"control {name!r}", ct)
        cd = ct - _as_values(f"control {name!r} baseline", cb) if cb is not None else ct
        cword, ceffect, _, _, _ = _decide(claim.rule, cd)
        judged[name] = {"word": cword, "effect": ceffect}
        if cword == "confirmed" and word == "confirmed":
            word, why = "not confirmed", f"the control '{name}' passes the same rule"
    return Verdict(claim, word, float(effect), (float(interval[0]), float(interval[1])),
                   int(d.size), detect, why, judged)
