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
