"""Training-step throughput of mae_theory's MAE (and Hugging Face's ViTMAE when installed).

Measures what one optimiser step costs on the GPU: batch drawn from images resident on the device,
device-side masking, forward + backward in bf16 autocast, fused AdamW. Reports images/s, ms per
step and MFU (model FLOPs from ``MAE.flops_per_image`` x 3 over the device's dense bf16 peak).

    python benchmarks/bench_train_step.py --configs tiny4,small4,base16 --modes eager,compile,graphs
    python benchmarks/bench_train_step.py --smoke        # tiny sizes, runs on the CPU
    python benchmarks/bench_train_step.py --configs tiny4 --modes graphs --attn default,flash,math

``--attn`` runs each row under :func:`torch.nn.attention.sdpa_kernel` restricted to one SDPA
backend (``default`` leaves PyTorch's own choice), active while compiling and while timing.

Writes a JSON file (atomically, with provenance) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
import traceback
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from mae_theory import MAE
from mae_theory.batches import Batches
from mae_theory.results import provenance, save_json
from mae_theory.runtime import resolve_device
from mae_theory.throughput import peak_bf16_flops
from mae_theory.training import TrainConfig, compile_model, make_optimizer, train_step

# name: (img, patch, chans, D, depth, heads, D_dec, depth_dec, heads_dec, batch)
CONFIGS = {
    "tiny4": (32, 4, 3, 192, 12, 3, 128, 4, 4, 1024),
    "tiny2": (32, 2, 3, 192, 12, 3, 128, 4, 4, 512),
    "small4": (32, 4, 3, 384, 12, 6, 256, 4, 8, 1024),
    "base16": (224, 16, 3, 768, 12, 12, 512, 8, 16, 128),
    "smoke": (16, 4, 3, 32, 2, 2, 32, 1, 2, 16),
}
MODES = {"eager": dict(compile=False), "compile": dict(compile=True),
         "graphs": dict(compile=True, cuda_graphs=True)}
# --attn values: the SDPA backend each row is restricted to (None: PyTorch's default choice)
ATTN = {"default": None, "cudnn": SDPBackend.CUDNN_ATTENTION,
        "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "math": SDPBackend.MATH}


def attn_context(attn: str):
    """Context restricting ``scaled_dot_product_attention`` to one backend (or doing nothing)."""
    backend = ATTN[attn]
    return contextlib.nullcontext() if backend is None else sdpa_kernel([backend])


def _timed(step, n_warmup: int, n_steps: int, device: torch.device) -> float:
    """Seconds per step: warm-up, then the mean over ``n_steps`` (events on CUDA)."""
    for _ in range(n_warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n_steps):
            step()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000 / n_steps
    t = time.perf_counter()
    for _ in range(n_steps):
        step()
    return (time.perf_counter() - t) / n_steps


_ATTN_KERNEL = re.compile(r"attn|attention|fmha|flash|cudnn|sdpa|softmax", re.I)


def attn_kernels(step, device, n_steps: int = 2) -> list[str] | None:
    """Names of the attention-looking ops and kernels a few profiled steps run (CUDA only).

    Evidence of which SDPA backend the timed step really used; ``None`` where not available.
    """
    if device.type != "cuda":
        return None
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                torch.profiler.ProfilerActivity.CUDA]) as prof:
            for _ in range(n_steps):
                step()
            torch.cuda.synchronize()
        names = {e.key for e in prof.key_averages() if _ATTN_KERNEL.search(e.key)}
        return sorted(n[:100] for n in names)[:16]
    except Exception as err:  # the probe must never cost the row
        return [f"probe failed: {err!r}"[:200]]


def _setup_ours(name: str, mode: str, device):
    """The model and a zero-argument training step, exactly as ``train()`` runs it."""
    img, p, c, d, depth, heads, dd, ddepth, dheads, batch = CONFIGS[name]
    model = MAE(img, p, c, d, depth, heads, dd, ddepth, dheads, seed=0).to(device)
    cfg = TrainConfig(batch_size=batch, **MODES[mode])
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(max(4 * batch, 256), c, img, img, generator=gen).to(device)
    batches = Batches(images, model, cfg, seed=gen, device=device)
    optimizer = make_optimizer(model, cfg)
    forward = compile_model(model, cfg, device)

    def step():
        return train_step(forward, optimizer, *batches(), device)

    return model, step


def profile_ours(name: str, mode: str, device, n_steps: int = 5) -> str:
    """Top CUDA kernels of a few steps (to see where the time goes), as a text table."""
    _, step = _setup_ours(name, mode, device)
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(n_steps):
            step()
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="cuda_time_total", row_limit=25)


def bench_ours(name: str, mode: str, device, n_warmup: int, n_steps: int) -> dict:
    t0 = time.perf_counter()
    model, step = _setup_ours(name, mode, device)
    sec = _timed(step, n_warmup, n_steps, device)
    row = _row("mae_theory", name, mode, CONFIGS[name][-1], sec, model.flops_per_image(0.75),
               device)
    row["wall_s"] = time.perf_counter() - t0  # compile + warm-up + timing
    row["attn_kernels"] = attn_kernels(step, device)
    return row


def bench_hf(name: str, mode: str, device, n_warmup: int, n_steps: int) -> dict:
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    img, p, c, d, depth, heads, dd, ddepth, dheads, batch = CONFIGS[name]
    config = ViTMAEConfig(
        image_size=img, patch_size=p, num_channels=c, hidden_size=d, num_hidden_layers=depth,
        num_attention_heads=heads, intermediate_size=4 * d, decoder_hidden_size=dd,
        decoder_num_hidden_layers=ddepth, decoder_num_attention_heads=dheads,
        decoder_intermediate_size=4 * dd, mask_ratio=0.75, attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = ViTMAEForPreTraining(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95),
                                  weight_decay=0.05, fused=device.type == "cuda")
    fwd = model
    if MODES[mode].get("compile"):
        fwd = torch.compile(model, mode="reduce-overhead" if mode == "graphs" else None)
    images = torch.randn(4 * batch, c, img, img, device=device)

    def step():
        idx = torch.randint(0, images.shape[0], (batch,), device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = fwd(pixel_values=images[idx]).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    sec = _timed(step, n_warmup, n_steps, device)
    ref = MAE(img, p, c, d, depth, heads, dd, ddepth, dheads, seed=0)
    return _row("hf_vitmae", name, mode, batch, sec, ref.flops_per_image(0.75), device)


def _row(impl, name, mode, batch, sec, flops_fwd, device) -> dict:
    ips = batch / sec
    peak = peak_bf16_flops(device)
    return {"impl": impl, "config": name, "mode": mode, "batch": batch, "step_ms": 1000 * sec,
            "images_per_s": ips, "tflops": 3 * flops_fwd * ips / 1e12,
            "mfu": (3 * flops_fwd * ips / peak) if peak else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="tiny4,small4,base16")
    ap.add_argument("--modes", default="eager,compile,graphs")
    ap.add_argument("--hf", action="store_true", help="also time Hugging Face ViTMAE")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="tiny config on the CPU")
    ap.add_argument("--profile", default=None, help="CONFIG:MODE to profile (CUDA only)")
    ap.add_argument("--no-ours", action="store_true", help="time only Hugging Face's model")
    ap.add_argument("--attn", default="default",
                    help=f"comma list of SDPA backends to time, among {','.join(ATTN)}")
    ap.add_argument("--out", default="benchmarks/results.json")
    args = ap.parse_args(argv)
    attns = args.attn.split(",")
    unknown = [a for a in attns if a not in ATTN]
    if unknown:
        ap.error(f"unknown --attn {unknown}; choose among {','.join(ATTN)}")
    if attns != ["default"]:
        # AOTAutograd's cache keys on the Dynamo graph, which is the same for every backend (the
        # SDPA backend is picked later, while AOT traces), and its key ignores the sdpa_kernel
        # state: left on, every variant after the first would silently reuse the first one's
        # compiled code. Inductor's FX graph cache keys on the traced graph and stays correct.
        import torch._functorch.config as functorch_config

        functorch_config.enable_autograd_cache = False
    if args.smoke:
        args.configs, args.modes, args.steps, args.warmup = "smoke", "eager", 3, 1
    device = resolve_device("cpu" if args.smoke else "auto")
    if args.profile:
        name, mode = args.profile.split(":")
        with attn_context(attns[0]):
            print(profile_ours(name, mode, device), flush=True)
    rows = []
    out = Path(args.out)
    prov = provenance(device)
    for name in args.configs.split(","):
        for mode in args.modes.split(","):
            impls = [] if args.no_ours else [("mae_theory", bench_ours)]
            impls += [("hf_vitmae", bench_hf)] if args.hf else []
            for impl, fn in impls:
                for attn in attns:
                    try:
                        # the whole call (model build, compile on the first warm-up step, timing)
                        # runs under the backend restriction
                        with attn_context(attn):
                            row = fn(name, mode, device, args.warmup, args.steps)
                    except Exception as err:  # record and go on: one failure must not hide the rest
                        traceback.print_exc()
                        row = {"impl": impl, "config": name, "mode": mode,
                               "error": repr(err)[:300]}
                    row["attn"] = attn
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    torch._dynamo.reset()
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    # written after every row, so a run cut short still leaves its results
                    save_json({"schema": 1, "kind": "train_step_benchmark", "rows": rows,
                               "steps": args.steps, "warmup": args.warmup, "provenance": prov},
                              out)
    print("\n| impl | config | mode | attn | batch | images/s | ms/step | MFU |\n"
          "|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['impl']} | {r['config']} | {r['mode']} | {r['attn']} | | error | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] else "n/a"
        print(f"| {r['impl']} | {r['config']} | {r['mode']} | {r['attn']} | {r['batch']} | "
              f"{r['images_per_s']:,.0f} | {r['step_ms']:.2f} | {mfu} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
