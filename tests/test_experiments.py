"""Named experiments: CPU smoke runs, the result file round trip, and its validation."""

import json
import math
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mae_theory.__main__ import build_parser, main
from mae_theory.experiments import (
    EXPERIMENTS,
    configure,
    estimate_gpu_seconds,
    get_experiment,
    load_result,
    result_path,
    run_experiment,
    variant,
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Each experiment's smoke run (digits, CPU), written to a temporary folder."""
    out = tmp_path_factory.mktemp("results")
    runs = {name: run_experiment(name, smoke=True, device="cpu", out=out, progress=False)
            for name in ("mask_ratio_sweep", "masking_unit")}
    # the third one through the command line
    assert main(["run", "decoder_depth", "--smoke", "--device", "cpu", "--out", str(out)]) == 0
    runs["decoder_depth"] = load_result(result_path("decoder_depth", smoke=True,
                                                    dataset="digits", out=out))
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


def test_truncated_file_is_refused_with_a_command_that_runs(good_file):
    text = good_file.read_text()
    good_file.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated.*python -m mae_theory run "
                                         "mask_ratio_sweep --device cuda") as err:
        load_result(good_file)
    command = re.search(r"`(python -m mae_theory [^`]*)`", str(err.value)).group(1)
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert (args.command, args.name, args.smoke, args.device) == ("run", "mask_ratio_sweep",
                                                                 False, "cuda")
    assert result_path(args.name, out=args.out) == good_file  # it rewrites this very file


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


@pytest.mark.parametrize(("argv", "match"), [
    (["run", "nope", "--smoke"], "unknown experiment 'nope'; registered: mask_ratio_sweep"),
    (["run", "decoder_depth", "--device", "tpu"], "device must be 'auto', 'cpu'"),
    (["run", "decoder_depth", "--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (["run", "decoder_depth", "--seeds", "-1"], "seed must be an integer >= 0; got -1"),
    (["run", "decoder_depth", "--seeds", "x"], "invalid int value: 'x'"),
    (["run", "decoder_depth", "--bogus"], "unrecognized arguments: --bogus"),
    (["fly"], "invalid choice: 'fly'"),
    (["pretrain", "nope"], "unknown zoo recipe 'nope'; choose one of digits_mae"),
    (["pretrain", "digits_mae", "--seeds", "-2"], "--seeds must be >= 0; got [-2]"),
])
def test_bad_command_lines_print_one_line_and_fail(capsys, argv, match):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("python -m mae_theory: error: ") and match in captured.err


def test_bad_command_line_process_exits_without_traceback():
    done = subprocess.run([sys.executable, "-m", "mae_theory", "run", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]


def test_configure_checks_seeds_and_data_sets():
    assert configure("decoder_depth", seeds=(4,), dataset="digits").seeds == (4,)
    with pytest.raises(TypeError, match="seeds must be a sequence of ints"):
        configure("decoder_depth", seeds=3)
    with pytest.raises(ValueError, match="at least one seed"):
        configure("decoder_depth", seeds=[])


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
