"""Masked prediction in an HMM: pairwise twins, triplet predictors, EM fits."""

import numpy as np
import pytest
import torch

from mae_theory.hmm import (
    HMM,
    count_table,
    fit_hmm,
    joint_table,
    pairwise_conditional,
    pairwise_twin,
    parameter_error,
    random_hmm,
    sample_hmm,
    triplet_conditional,
)

TRUE = HMM(np.array([0.5, 0.3, 0.2]),
           np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]]),
           np.array([[0.7, 0.1, 0.1], [0.1, 0.7, 0.1], [0.1, 0.1, 0.4], [0.1, 0.1, 0.4]]))
CYCLE = np.eye(3)[[1, 2, 0]]


def test_twin_has_equal_pairwise_and_different_triplet_predictors():
    twin = pairwise_twin(TRUE, CYCLE, 0.15)
    assert np.abs(pairwise_conditional(twin) - pairwise_conditional(TRUE)).max() < 1e-12
    assert np.abs(joint_table(twin, 2) - joint_table(TRUE, 2)).max() < 1e-12
    assert np.abs(triplet_conditional(twin) - triplet_conditional(TRUE)).max() > 5e-3
    assert parameter_error(twin, TRUE) > 0.1


def test_joint_table_by_brute_force():
    hmm = random_hmm(2, 3, seed=3)
    table = joint_table(hmm, 3)
    pi, t, o = hmm.initial, hmm.transition, hmm.emission
    brute = sum(pi[a] * t[a, b] * t[b, c] * o[0, a] * o[2, b] * o[1, c]
                for a in range(2) for b in range(2) for c in range(2))
    assert table[0, 2, 1] == pytest.approx(brute, abs=1e-15)
    assert triplet_conditional(hmm).sum(axis=(1, 2)) == pytest.approx(np.ones(3))


def test_samples_follow_the_joint_table():
    seq = sample_hmm(TRUE, 40000, 3, seed=0)
    freq = count_table(seq, 4) / 40000
    assert np.abs(freq - joint_table(TRUE, 3)).max() < 0.01


def test_triplet_fit_recovers_parameters_pairwise_does_not_pin_them():
    seq = sample_hmm(TRUE, 100000, 3, seed=0)
    fits3 = [fit_hmm(count_table(seq, 4), 3, iters=400, seed=s) for s in range(4)]
    best = max(ll for _, ll in fits3)
    errs3 = [parameter_error(h, TRUE) for h, ll in fits3 if ll > best - 1e-3]
    assert max(errs3) < 0.1
    fits2 = [fit_hmm(count_table(seq[:, :2], 4), 3, iters=400, seed=s) for s in range(4)]
    best2 = max(ll for _, ll in fits2)
    errs2 = [parameter_error(h, TRUE) for h, ll in fits2 if ll > best2 - 1e-3]
    assert max(errs2) > 0.1  # equally likely fits, far from the truth


def test_relabelling_is_not_an_error():
    perm = [1, 2, 0]
    relabelled = HMM(TRUE.initial[perm], TRUE.transition[np.ix_(perm, perm)],
                     TRUE.emission[:, perm])
    assert parameter_error(relabelled, TRUE) == 0.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="sum to one"):
        HMM(np.array([0.5, 0.6]), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="initial pi"):
        HMM(np.ones(2) / 2, np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="length T"):
        joint_table(TRUE, 4)
    with pytest.raises(ValueError, match="smaller step"):
        pairwise_twin(TRUE, CYCLE, 5.0)
    with pytest.raises(ValueError, match="direction G"):
        pairwise_twin(TRUE, np.eye(2))
    with pytest.raises(ValueError, match="sequences must be"):
        count_table(np.zeros((3, 4), dtype=int), 4)
    with pytest.raises(TypeError, match="sequences must hold integer symbols"):
        count_table(torch.full((3, 2), 1.7), 4)  # used to be truncated to 1 silently
    with pytest.raises(ValueError, match="sequences must be"):
        count_table(torch.zeros(0, 2, dtype=torch.long), 4)
    with pytest.raises(ValueError, match=r"n_symbols \(V\) must be an integer >= 1"):
        count_table(torch.zeros(3, 2, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="sum to one"):
        HMM(np.array([np.nan, 1.0]), np.eye(2), np.eye(2))
    with pytest.raises(TypeError, match="initial must be an array of probabilities"):
        HMM(["a", "b"], np.eye(2), np.eye(2))
    with pytest.raises(TypeError, match="hmm must be an HMM"):
        joint_table({"initial": [1.0]}, 2)
    with pytest.raises(TypeError, match=r"length \(sequence length T\) must be an integer"):
        joint_table(TRUE, 2.0)
    with pytest.raises(ValueError, match=r"n_states \(K\) must be an integer >= 1; got 0"):
        random_hmm(0, 3, seed=0)
    with pytest.raises(ValueError, match=r"n \(number of sequences\) must be an integer >= 1"):
        sample_hmm(TRUE, -5, seed=0)
    with pytest.raises(ValueError, match="counts must be finite, non-negative"):
        fit_hmm(np.full((3, 3), -1.0), 2, seed=0)
    with pytest.raises(ValueError, match=r"counts must be a \(V, V\) or \(V, V, V\) table"):
        fit_hmm(np.ones((3, 4)), 2, seed=0)
    with pytest.raises(ValueError, match="step must be a finite number"):
        pairwise_twin(TRUE, CYCLE, float("nan"))
