"""Result files: atomic writes, the command that regenerates a file, summaries, provenance."""

import math
import shlex

import pytest
import torch

from mae_theory.__main__ import build_parser
from mae_theory.experiments import configure
from mae_theory.results import (
    RESULTS_DIR,
    epoch_summary,
    load_result,
    provenance,
    remove_stale_temps,
    rerun_command,
    result_path,
    save_json,
    summarise,
)
from mae_theory.throughput import Throughput


def _parse(command: str):
    """Parse a suggested command with the real command-line parser (after the program name)."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "mae_theory"]
    return build_parser().parse_args(argv[3:])


@pytest.mark.parametrize(("name", "smoke", "dataset"), [
    ("mask_ratio_sweep", False, "fashion_mnist"),
    ("decoder_depth", True, "digits"),
    ("masking_unit", False, "cifar10"),
    ("masking_unit", True, "synthetic_shapes"),
])
def test_the_rerun_command_parses_and_writes_that_very_file(tmp_path, name, smoke, dataset):
    path = result_path(name, smoke=smoke, dataset=dataset, out=tmp_path)
    args = _parse(rerun_command(path))
    configure(args.name, smoke=args.smoke, seeds=args.seeds, dataset=args.dataset)
    assert args.command == "run" and args.name == name and args.smoke == smoke
    assert result_path(args.name, smoke=args.smoke, dataset=args.dataset or "fashion_mnist",
                       out=args.out) == path


def test_committed_results_need_no_out_flag():
    args = _parse(rerun_command(RESULTS_DIR / "decoder_depth.json"))
    assert args.out is None and args.device == "cuda"


def test_unknown_file_names_point_to_the_list(tmp_path):
    assert rerun_command(tmp_path / "my_notes.json") is None
    with pytest.raises(FileNotFoundError, match="python -m mae_theory list"):
        load_result(tmp_path / "my_notes.json")


def test_save_json_is_atomic_and_clears_leftovers(tmp_path):
    target = tmp_path / "r.json"
    (tmp_path / "r.json.tmp999").write_text("{")
    (tmp_path / "other.json.tmp1").write_text("{")  # another file's temp is not ours
    save_json({"a": 1}, target)
    assert target.read_text().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json.tmp1", "r.json"]
    assert remove_stale_temps(tmp_path / "other.json") == [tmp_path / "other.json.tmp1"]


def test_summary_and_epoch_averages_by_hand():
    runs = [{"value": 0.5, "metrics": {"knn": 0.2}}, {"value": 0.5, "metrics": {"knn": 0.4}},
            {"value": 0.9, "metrics": {"knn": 0.7}}]
    s = summarise(runs)["knn"]
    assert s["0.5"]["n"] == 2 and s["0.5"]["mean"] == pytest.approx(0.3)
    assert s["0.5"]["std"] == pytest.approx(math.sqrt(0.02))
    assert s["0.9"] == {"mean": 0.7, "std": 0.0, "n": 1}
    hist = [{"step": s, "loss": float(s), "images_per_s": 1.0} for s in (5, 10, 15)]
    assert [e["loss"] for e in epoch_summary(hist, 10)] == [7.5, 15.0]


def test_provenance_names_versions():
    p = provenance("cpu")
    assert p["torch"] == torch.__version__ and p["device"].startswith("cpu")
    assert p["git_commit"] is None or len(p["git_commit"]) == 40


def test_mfu_is_throughput_times_flops_over_peak():
    meter = Throughput(batch_size=100, flops_per_image=1e9, device=torch.device("cpu"), world=2)
    assert "mfu" not in meter.interval(1)  # no peak known on the CPU
    meter.peak = 1e12
    entry = meter.interval(11)
    assert entry["mfu"] == pytest.approx(entry["images_per_s"] * 3e9 / 2e12)
