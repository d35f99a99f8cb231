"""Named experiments: CPU smoke runs, the result file round trip, and its validation."""

import json
import math
import runpy
import sys
from pathlib import Path

import pytest
import torch

from mae_theory.__main__ import main
from mae_theory.experiments import (
    EXPERIMENTS,
    epoch_summary,
    estimate_gpu_seconds,
    get_experiment,
    load_result,
    result_path,
    run_experiment,
    summarise,
    variant,
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Each experiment's smoke run (digits, CPU), written to a temporary folder."""
    out = tmp_path_factory.mktemp("results")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and fair on a shared machine
    runs = {name: run_experiment(name, smoke=True, device="cpu", out=out, progress=False)
            for name in ("mask_ratio_sweep", "masking_unit")}
    # the third one through the command line
    assert main(["run", "decoder_depth", "--smoke", "--device", "cpu", "--out", str(out)]) == 0
    runs["decoder_depth"] = load_result(result_path("decoder_depth", smoke=True,
                                                    dataset="digits", out=out))
    torch.set_num_threads(threads)
    return out, runs


def test_every_experiment_runs_at_smoke_size_and_round_trips(smoke):
    out, runs = smoke
    for name, res in runs.items():
        path = result_path(name, smoke=True, dataset="digits", out=out)
        assert path.name == f"{name}_digits_smoke.json" and path.exists()
        assert load_result(path) == json.loads(json.dumps(res))
        exp = get_experiment(name, smoke=True)
        assert res["smoke"] is True and res["values"] == list(exp.values)
        assert len(res["runs"]) == len(exp.values) * len(exp.seeds)
        assert res["provenance"]["torch"] == torch.__version__
        for run in res["runs"]:
            assert [e["epoch"] for e in run["epochs"]] == list(range(1, exp.epochs + 1))
            assert all(e["images_per_s"] > 0 and math.isfinite(e["loss"]) for e in run["epochs"])
            m = run["metrics"]
            assert all(0.0 <= m[k] <= 1.0 for k in ("linear_probe", "knn", "partial_ft"))
            assert m["ssim"] <= 1.0 and 0 < m["psnr"] < 60


def test_smoke_features_beat_chance_on_digits(smoke):
    # ten balanced classes: chance is 0.1; even two epochs of pretraining give useful features
    for res in smoke[1].values():
        for by_value in (res["summary"]["linear_probe"], res["summary"]["knn"]):
            assert all(s["mean"] > 0.3 for s in by_value.values())


def test_reconstruction_at_the_own_ratio_degrades_as_more_is_masked(smoke):
    # visible patches are pasted back, so hiding more can only leave more to get wrong
    psnr = smoke[1]["mask_ratio_sweep"]["summary"]["psnr_own_ratio"]
    values = [psnr[str(r)]["mean"] for r in (0.1, 0.25, 0.5, 0.75, 0.9)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_the_command_line_lists_the_experiments(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in EXPERIMENTS) and "H100 (estimate)" in text


@pytest.fixture
def good_file(smoke, tmp_path):
    src = result_path("mask_ratio_sweep", smoke=True, dataset="digits", out=smoke[0])
    dst = tmp_path / "mask_ratio_sweep.json"
    dst.write_text(src.read_text())
    return dst


def test_truncated_file_is_refused_with_the_fix(good_file):
    text = good_file.read_text()
    good_file.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated.*python -m mae_theory run "
                                         "mask_ratio_sweep --device cuda"):
        load_result(good_file)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda r: r.update(schema=99), "schema 99"),
    (lambda r: r.pop("summary"), "'summary' must be dict; found nothing"),
    (lambda r: r.update(seeds="0"), "'seeds' must be list; found str"),
    (lambda r: r["runs"][0].pop("metrics"), "runs\\[0\\].'metrics'"),
    (lambda r: r.update(runs=[]), "has no runs"),
])
def test_malformed_files_are_refused(good_file, edit, match):
    res = json.loads(good_file.read_text())
    edit(res)
    good_file.write_text(json.dumps(res))
    with pytest.raises(ValueError, match=match):
        load_result(good_file)


def test_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m mae_theory run decoder_depth"):
        load_result(tmp_path / "decoder_depth.json")


def test_variants_map_the_swept_setting():
    exp = get_experiment("masking_unit")
    _, cfg = variant(exp, 8, 60_000)
    assert exp.model["patch_size"] == 2 and cfg.mask_unit == 4 and cfg.mask_ratio == 0.75
    assert cfg.steps == 50 * 60_000 // 1024 and cfg.warmup_steps == cfg.steps // 10
    model, _ = variant(get_experiment("decoder_depth"), 2, 60_000)
    assert model["decoder_depth"] == 2
    with pytest.raises(ValueError, match="not a multiple of the ViT patch"):
        variant(exp, 3, 100)
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        get_experiment("nope")


def test_summary_and_epoch_averages_by_hand():
    runs = [{"value": 0.5, "metrics": {"knn": 0.2}}, {"value": 0.5, "metrics": {"knn": 0.4}}]
    s = summarise(runs)["knn"]["0.5"]
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.3) and s["std"] == pytest.approx(
        math.sqrt(0.02))
    hist = [{"step": s, "loss": float(s), "images_per_s": 1.0} for s in (5, 10, 15)]
    assert [e["loss"] for e in epoch_summary(hist, 10)] == [7.5, 15.0]


def test_gpu_time_estimate_grows_with_the_visible_tokens():
    est = estimate_gpu_seconds("mask_ratio_sweep")
    per = [est["per_value_s"][str(r)] for r in (0.1, 0.25, 0.5, 0.75, 0.9)]
    assert all(a > b for a, b in zip(per, per[1:])) and est["runs"] == 15


def test_estimate_anchor_matches_the_benchmark_file():
    from mae_theory.experiments import H100_REFERENCE

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "results_h100_fashion.json"
    ref = json.loads(bench.read_text())
    assert H100_REFERENCE["images_per_s"] == pytest.approx(ref["steady_images_per_s"], rel=1e-3)
    steady = ref["steps"] * ref["config"]["batch_size"] / ref["steady_images_per_s"]
    assert H100_REFERENCE["overhead_s"] == pytest.approx(ref["wall_time_s"] - steady, abs=0.5)


@pytest.mark.gpu
def test_gpu_fast_path_trains_and_logs_throughput():
    from mae_theory import MAE, TrainConfig, train

    model = MAE(32, 4, 1, 192, 12, 3, 128, 4, 4, seed=0)
    images = torch.randn(4096, 1, 32, 32)
    cfg = TrainConfig(steps=60, batch_size=512, log_every=20, augment=True, compile=True,
                      cuda_graphs=True)
    res = train(model, images, cfg, seed=0, device="cuda", progress=False)
    assert all(math.isfinite(v) for v in res.losses)
    assert all(h["images_per_s"] > 0 for h in res.history)
    assert "mfu" in res.history[-1] or "H100" not in res.provenance["device"]


@pytest.mark.gpu
def test_gpu_smoke_experiment(tmp_path):
    res = run_experiment("decoder_depth", smoke=True, device="cuda", out=tmp_path)
    assert res["provenance"]["device"] == torch.cuda.get_device_name()
    assert all(s["mean"] > 0.3 for s in res["summary"]["linear_probe"].values())


@pytest.mark.gpu
def test_gpu_benchmark_graphs_mode(tmp_path, monkeypatch):
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train_step.py"
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["bench", "--configs", "tiny4", "--modes", "graphs",
                                      "--steps", "5", "--warmup", "3", "--out", str(out)])
    assert runpy.run_path(str(bench), run_name="bench")["main"]() == 0
    row = json.loads(out.read_text())["rows"][0]
    assert "error" not in row and row["images_per_s"] > 0
