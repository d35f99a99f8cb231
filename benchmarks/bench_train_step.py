"""Training-step throughput of mae_theory's MAE (and Hugging Face's ViTMAE when installed).

Measures what one optimiser step costs on the GPU: batch drawn from images resident on the device,
device-side masking, forward + backward in bf16 autocast, fused AdamW. Reports images/s, ms per
step and MFU (model FLOPs from ``MAE.flops_per_image`` x 3 over the device's dense bf16 peak).

    python benchmarks/bench_train_step.py --configs tiny4,small4,base16 --modes eager,compile,graphs
    python benchmarks/bench_train_step.py --smoke        # tiny sizes, runs on the CPU

Writes a JSON file (atomically, with provenance) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

from mae_theory import MAE
from mae_theory.runtime import peak_bf16_flops, provenance, resolve_device
from mae_theory.train import Batches, TrainConfig, compile_model, make_optimizer, train_step

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


def bench_ours(name: str, mode: str, device, n_warmup: int, n_steps: int) -> dict:
    img, p, c, d, depth, heads, dd, ddepth, dheads, batch = CONFIGS[name]
    model = MAE(img, p, c, d, depth, heads, dd, ddepth, dheads, seed=0).to(device)
    cfg = TrainConfig(batch_size=batch, **MODES[mode])
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(max(4 * batch, 256), c, img, img, generator=gen).to(device)
    batches = Batches(images, model, cfg, gen, device)
    optimizer = make_optimizer(model, cfg)
    forward = compile_model(model, cfg, device)
    sec = _timed(lambda: train_step(forward, optimizer, *batches(), device), n_warmup, n_steps,
                 device)
    return _row("mae_theory", name, mode, batch, sec, model.flops_per_image(0.75), device)


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
    ap.add_argument("--out", default="benchmarks/results.json")
    args = ap.parse_args(argv)
    if args.smoke:
        args.configs, args.modes, args.steps, args.warmup = "smoke", "eager", 3, 1
    device = resolve_device("cpu" if args.smoke else "auto")
    rows = []
    for name in args.configs.split(","):
        for mode in args.modes.split(","):
            impls = [("mae_theory", bench_ours)] + ([("hf_vitmae", bench_hf)] if args.hf else [])
            for impl, fn in impls:
                try:
                    row = fn(name, mode, device, args.warmup, args.steps)
                except Exception as err:  # record and go on: one failing mode must not hide the rest
                    traceback.print_exc()
                    row = {"impl": impl, "config": name, "mode": mode, "error": repr(err)[:300]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                torch._dynamo.reset()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    result = {"schema": 1, "kind": "train_step_benchmark", "rows": rows,
              "steps": args.steps, "warmup": args.warmup, "provenance": provenance(device)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    print("\n| impl | config | mode | batch | images/s | ms/step | MFU |\n|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['impl']} | {r['config']} | {r['mode']} | | error | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] else "n/a"
        print(f"| {r['impl']} | {r['config']} | {r['mode']} | {r['batch']} | "
              f"{r['images_per_s']:,.0f} | {r['step_ms']:.2f} | {mfu} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
