"""Command line: ``python -m mae_theory list``, ``run NAME`` and ``pretrain NAME``.

Examples::

    python -m mae_theory list
    python -m mae_theory pretrain digits_mae --seeds 0 1         # the model zoo, CPU, minutes
    python -m mae_theory pretrain all                            # every recipe (resumes)
    python -m mae_theory run mask_ratio_sweep --device cuda
    python -m mae_theory run decoder_depth --smoke --out /tmp/results     # CPU, seconds
    bash scripts/cpu_tier.sh                 # the CPU tier: two processes, resumable, ~2.5 h
    torchrun --nproc_per_node=4 -m mae_theory run masking_unit --device cuda

A bad argument (unknown experiment, device or data set, a negative seed) prints one line to
stderr and exits with status 2, before any work starts.
"""

from __future__ import annotations

import argparse
import json
import sys

from .experiments import (
    DATASETS,
    EXPERIMENTS,
    configure,
    estimate_gpu_seconds,
    result_path,
    run_experiment,
)
from .runtime import resolve_device
from .zoo import RECIPES, gate_line, pretrain

PROG = "python -m mae_theory"


class UsageError(Exception):
    """A bad command line: reported as one line, without a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage and exit: we report one line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (its ``error`` raises :class:`UsageError` instead of exiting)."""
    ap = _Parser(prog=PROG, description="Named MAE experiments on real images.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="registered experiments and their estimated H100 time")
    run = sub.add_parser("run", help="run one experiment and write its JSON result")
    run.add_argument("name", help=f"one of: {', '.join(EXPERIMENTS)}")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    run.add_argument("--smoke", action="store_true", help="CPU smoke size (digits, seconds)")
    run.add_argument("--seeds", type=int, nargs="+", default=None, help="override the seeds")
    run.add_argument("--dataset", default=None,
                     help=f"{' or '.join(DATASETS)} (default: the experiment's)")
    run.add_argument("--out", default=None, help="result folder (default: data/results)")
    run.add_argument("--progress", action="store_true", help="show training progress bars")
    pre = sub.add_parser("pretrain", help="train a zoo recipe on the CPU (data/zoo/NAME)")
    pre.add_argument("name", help=f"one of: {', '.join(RECIPES)}; or all")
    pre.add_argument("--seeds", type=int, nargs="+", default=None, help="override the seeds")
    pre.add_argument("--force", action="store_true", help="retrain seeds already in the zoo")
    return ap


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for a bad argument)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":  # check everything before any work starts
            configure(args.name, smoke=args.smoke, seeds=args.seeds, dataset=args.dataset)
            resolve_device(args.device)
        if args.command == "pretrain":
            if args.name not in RECIPES and args.name != "all":
                raise ValueError(f"unknown zoo recipe {args.name!r}; choose one of "
                                 f"{', '.join(RECIPES)}, or all.")
            if args.seeds is not None and min(args.seeds) < 0:
                raise ValueError(f"--seeds must be >= 0; got {args.seeds}.")
    except (UsageError, ValueError, TypeError) as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2

    if args.command == "list":
        for name, exp in EXPERIMENTS.items():
            runs = len(exp.values) * len(exp.seeds)
            if exp.tier == "cpu":
                print(f"{name:21s} {exp.description}; {runs} runs (shared runs computed once; "
                      "the three CPU sweeps take ~2.5 h on two idle cores: "
                      "bash scripts/cpu_tier.sh)")
                continue
            est = estimate_gpu_seconds(name)
            print(f"{name:21s} {exp.description}; {est['runs']} runs, "
                  f"~{est['total_s'] / 60:.0f} min on one H100 (estimate)")
        for name, recipe in RECIPES.items():
            print(f"zoo: {name:14s} {recipe.description}; seeds {list(recipe.seeds)}")
        return 0
    if args.command == "pretrain":
        for name in RECIPES if args.name == "all" else [args.name]:
            for rec in pretrain(name, seeds=args.seeds, force=args.force, progress=None):
                print(f"{name} seed {rec['seed']}: {rec['wall_time_s']:.0f} s; "
                      f"{gate_line(rec)}", flush=True)
        return 0
    res = run_experiment(args.name, smoke=args.smoke, seeds=args.seeds, dataset=args.dataset,
                         device=args.device, out=args.out, progress=args.progress or None)
    if res.get("pending"):
        print(f"{args.name}: every unit this process could take is saved; others are still "
              "running in another process, which writes the result when it finishes.")
        return 0
    path = result_path(args.name, smoke=args.smoke, dataset=res["dataset"], out=args.out)
    summary = {k: {v: round(s["mean"], 4) for v, s in by.items()}
               for k, by in res["summary"].items()}
    print(json.dumps({"result": str(path), "wall_time_s": round(res["wall_time_s"], 1),
                      "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    try:
        code = main()
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    sys.exit(code)
