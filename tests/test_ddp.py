"""Data-parallel training: 2 CPU processes (gloo) end where one process does on the same batch."""

import math
import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mae_theory import MAE
from mae_theory.distributed import distributed_context, rank, world_size
from mae_theory.training import TrainConfig, train

CFG = TrainConfig(steps=12, batch_size=16, log_every=4, warmup_steps=2, lr=3e-3, augment=True)


def _images():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(64, 1, 4, 4, generator=g)
    return torch.nn.functional.interpolate(base, size=8, mode="bilinear")


def _model():
    return MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        model = _model()
        res = train(model, _images(), CFG, seed=3, device="cpu", progress=False,
                    checkpoint=os.path.join(out, "ddp.pt"))
        torch.save({"losses": res.losses, "state": model.state_dict(),
                    "world": res.provenance["world_size"]}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two spawned interpreters: about 15-40 s on 2 cores
def test_two_gloo_processes_match_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    single_model = _model()
    single = train(single_model, _images(), CFG, seed=3, device="cpu", progress=False)
    assert ranks[0]["world"] == 2 and single.provenance["world_size"] == 1
    # every rank reports the global-batch loss and ends with the same weights, bit for bit
    assert ranks[0]["losses"] == ranks[1]["losses"]
    for name, p in ranks[0]["state"].items():
        assert torch.equal(p, ranks[1]["state"][name]), name
    # and matches the single process up to summation order
    assert ranks[0]["losses"] == pytest.approx(single.losses, rel=1e-5)
    for name, p in single_model.state_dict().items():
        q = ranks[0]["state"][name]
        if name.endswith("qkv.bias"):
            # the key bias has an exactly zero gradient (softmax ignores a shift shared by all
            # keys); AdamW turns its rounding noise into lr-sized steps, so skip that slice
            d = p.shape[0] // 3
            p, q = torch.cat([p[:d], p[2 * d:]]), torch.cat([q[:d], q[2 * d:]])
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)
    # rank 0 wrote the checkpoint, with the final weights
    ckpt = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert ckpt["step"] == CFG.steps
    assert all(torch.equal(ckpt["model"][k], v) for k, v in ranks[0]["state"].items())


def test_plain_process_is_rank_zero_of_one(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed_context(torch.device("cpu")) == (0, 1, torch.device("cpu"))
    assert (rank(), world_size()) == (0, 1)


def test_batch_must_split_evenly_over_ranks(monkeypatch):
    train_module = sys.modules["mae_theory.training"]
    monkeypatch.setattr(train_module, "distributed_context",
                        lambda dev: (0, 2, torch.device("cpu")))
    with pytest.raises(ValueError, match="divisible by the number of DDP processes W=2"):
        train(_model(), _images(), TrainConfig(steps=2, batch_size=15), device="cpu")


@pytest.mark.slow  # torchrun starts two interpreters that each run a smoke experiment
def test_torchrun_runs_a_named_experiment_data_parallel(tmp_path):
    import json
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "mae_theory", "run", "decoder_depth", "--smoke", "--device", "cpu",
           "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MAE_THEORY_PROGRESS": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["decoder_depth_digits_smoke.json"]  # rank 0 only
    res = json.loads(files[0].read_text())
    assert res["provenance"]["world_size"] == 2
    assert all(math.isfinite(r["final_loss"]) for r in res["runs"])
