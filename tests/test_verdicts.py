import numpy as np
import pytest

from mae_theory.verdicts import Claim, Equivalence, PairedTest, Tolerance, judge


def claim(rule, n=5, controls=()):
    return Claim("k", "1", "this book", "A beats B", "A > B", "score", rule, n_seeds=n,
                 controls=controls)


def test_paired_test_false_positive_rate_is_alpha_and_power_grows():
    rng = np.random.default_rng(0)
    c = claim(PairedTest(alpha=0.05), n=5)
    null = [judge(c, rng.normal(size=5), rng.normal(size=5)).word for _ in range(2000)]
    rate = null.count("confirmed") / len(null)
    assert 0.035 < rate < 0.065  # binomial sd at 2000 draws is 0.005
    alt = [judge(c, rng.normal(1.5, 1, 5), rng.normal(size=5)).word for _ in range(500)]
    assert alt.count("confirmed") / 500 > 0.6


def test_paired_test_words_and_direction():
    c = claim(PairedTest(direction="less"), n=3)
    assert judge(c, [1.0, 1.1, 0.9], [2.0, 2.05, 2.1]).word == "confirmed"
    assert judge(c, [3.0, 3.1, 2.9], [2.0, 2.05, 2.1]).word == "not confirmed"
    assert judge(c, [1.0, 3.0, 1.5], [2.0, 2.05, 2.1]).word == "inconclusive"


def test_smallest_effect_turns_a_tiny_effect_into_not_confirmed():
    c = claim(PairedTest(smallest_effect=1.0), n=4)
    v = judge(c, [0.10, 0.11, 0.12, 0.10], [0.0, 0.0, 0.0, 0.0])
    assert v.word == "not confirmed" and "smallest" in v.reason


def test_a_passing_control_makes_the_claim_not_confirmed():
    c = claim(PairedTest(), n=3, controls=("random init",))
    trained, base = [2.0, 2.1, 2.2], [1.0, 1.0, 1.1]
    v = judge(c, trained, base, controls={"random init": ([1.9, 2.0, 2.1], base)})
    assert v.word == "not confirmed" and "random init" in v.reason
    v = judge(c, trained, base, controls={"random init": ([1.0, 0.9, 1.2], base)})
    assert v.word == "confirmed" and v.controls["random init"]["word"] != "confirmed"


def test_equivalence_and_tolerance():
    eq = claim(Equivalence(margin=0.1), n=4)
    assert judge(eq, [1.0, 1.01, 0.99, 1.0], [1.0, 1.0, 1.0, 1.0]).word == "confirmed"
    assert judge(eq, [1.5, 1.6, 1.5, 1.55], [1.0, 1.0, 1.0, 1.0]).word == "not confirmed"
    assert judge(eq, [1.0, 1.3, 0.8, 1.1], [1.0, 1.0, 1.0, 1.0]).word == "inconclusive"
    tol = claim(Tolerance(target=2.0, tol=0.05), n=1)
    assert judge(tol, [2.03]).word == "confirmed"
    assert judge(tol, [2.2]).word == "not confirmed"


def test_design_is_fixed_before_the_run():
    c = claim(PairedTest(), n=5, controls=("random init",))
    with pytest.raises(ValueError, match="declared with n_seeds=5; got 3"):
        judge(c, [1, 2, 3], [0, 0, 0], controls={"random init": ([0] * 5, [0] * 5)})
    with pytest.raises(ValueError, match=r"controls must be exactly the declared"):
        judge(c, [1] * 5, [0] * 5)
    with pytest.raises(ValueError, match="baseline is required"):
        judge(c, [1] * 5)
    with pytest.raises(ValueError, match="treatment must be finite"):
        judge(c, [1, 2, np.nan, 1, 1], [0] * 5, controls={"random init": ([0] * 5, [0] * 5)})


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="source must be one of"):
        Claim("k", "1", "me", "s", "p", "x", PairedTest(), 5)
    with pytest.raises(ValueError, match="n_seeds must be >= 2"):
        Claim("k", "1", "Kong", "s", "p", "x", PairedTest(), 1)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \(0, 0.5\)"):
        PairedTest(alpha=0.7)
    with pytest.raises(ValueError, match="margin must be a finite number"):
        Equivalence(margin=0)


def test_verdict_renders_box_and_record():
    v = judge(claim(PairedTest(), n=3), [2.0, 2.1, 2.2], [1.0, 1.0, 1.1])
    assert "CONFIRMED" in v._repr_html_() and 'data-key="k"' in v._repr_html_()
    rec = v.to_dict()
    assert rec["word"] == "confirmed" and rec["n"] == 3 and len(rec["interval"]) == 2
