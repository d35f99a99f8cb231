"""The benchmark script must keep working: a smoke run on the CPU writes a valid result file."""

import json
import runpy
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train_step.py"


def test_benchmark_smoke_run_writes_results(tmp_path, monkeypatch):
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["bench", "--smoke", "--out", str(out)])
    module = runpy.run_path(str(BENCH), run_name="bench")
    assert module["main"]() == 0
    result = json.loads(out.read_text())
    row = result["rows"][0]
    assert result["schema"] == 1 and "error" not in row
    assert row["images_per_s"] > 0 and row["step_ms"] > 0
    assert result["provenance"]["torch"]


def test_fashion_mnist_script_smoke_run(tmp_path, monkeypatch):
    out = tmp_path / "fashion.json"
    script = BENCH.parent / "train_fashion_mnist.py"
    monkeypatch.setattr(sys, "argv", ["train", "--smoke", "--out", str(out)])
    assert runpy.run_path(str(script), run_name="train")["main"]() == 0
    result = json.loads(out.read_text())
    assert result["steps"] == 4 and set(result["test_masked_mse"]) == {"0.25", "0.5", "0.75", "0.9"}
    assert result["provenance"]["device"].startswith("cpu")
