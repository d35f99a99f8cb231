"""The committed zoo: every checkpoint loads, passes its gate, reproduces its recorded held-out
metric, and its recipe still trains the way the record says (a stale zoo fails here)."""

import functools

import pytest
import torch

from mae_theory import zoo
from mae_theory.fashion_mnist import FASHION_MNIST_SYSTEM_DIRS
from mae_theory.training import train

HAVE_FASHION = any(d.is_dir() for d in FASHION_MNIST_SYSTEM_DIRS)
CASES = [(name, seed) for name, r in zoo.RECIPES.items() for seed in r.seeds]
# re-running the first steps must give the recorded losses to this relative tolerance: the same
# code and torch give identical floats; another CPU's kernels may differ in the last bits, and
# 100 steps of training amplify that far less than this
STALE_RTOL = 1e-3


def needs_data(name):
    if zoo.RECIPES[name].data == "fashion_mnist" and not HAVE_FASHION:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


@functools.cache
def data(name):
    return zoo.recipe_data(zoo.RECIPES[name])


def test_every_recipe_has_all_its_seeds_committed():
    missing = [f"{n} seed {s}" for n, s in CASES
               if not (zoo.zoo_dir(n) / f"seed{s}.pt").exists()]
    assert not missing, (f"zoo checkpoints missing: {missing}; train them with "
                         "`python -m mae_theory pretrain NAME` (make zoo) and commit data/zoo")


def test_the_committed_zoo_stays_small():
    size = sum(f.stat().st_size for f in zoo.ZOO_ROOT.rglob("*") if f.is_file())
    assert size < 20e6, f"data/zoo holds {size / 1e6:.1f} MB; keep it under 20 MB"


@pytest.mark.parametrize("name,seed", CASES)
def test_checkpoint_loads_passes_its_gate_and_reproduces_its_metric(name, seed):
    needs_data(name)
    model, record = zoo.load_pretrained(name, seed=seed)  # refuses failed gates, stale recipes
    recipe = zoo.RECIPES[name]
    train_set, test_set = data(name)
    gate = record["gate"]
    if recipe.objective == "supervised":
        assert zoo.accuracy(model, model.head, test_set) == pytest.approx(gate["accuracy"],
                                                                          abs=1e-6)
        return
    again = zoo.gate_metrics(model, train_set.images, test_set.images, gate["mask_ratio"],
                             random_init=recipe.build(seed=seed), seed=seed)
    assert again.passed
    assert again.model_mse == pytest.approx(gate["model_mse"], rel=1e-4)
    assert again.random_init_mse == pytest.approx(gate["random_init_mse"], rel=1e-4)


def test_rerunning_the_first_steps_reproduces_the_recorded_losses():
    name, seed, stop = "digits_decoder_d1", 0, 100
    _, record = zoo.load_pretrained(name, seed=seed)
    recipe = zoo.RECIPES[name]
    model = recipe.build(seed=seed)
    with torch.random.fork_rng():
        res = train(model, data(name)[0], recipe.train, seed=seed, device="cpu", progress=False,
                    stop_at=stop)
    got = {h["step"]: h["loss"] for h in res.history}
    want = {h["step"]: h["loss"] for h in record["history"] if h["step"] <= stop}
    assert set(want) <= set(got) and want
    for step, loss in want.items():
        assert got[step] == pytest.approx(loss, rel=STALE_RTOL), (
            f"{name} seed {seed} step {step}: recorded loss {loss:.6f}, now {got[step]:.6f}. "
            f"The recipe or the training code changed: retrain with `python -m mae_theory "
            f"pretrain {name} --force` and commit data/zoo/{name}.")
