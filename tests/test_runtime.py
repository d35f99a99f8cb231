import pytest
import torch

from mae_theory import runtime
from mae_theory.runtime import autocast, make_generator, resolve_device


def test_resolve_device_cpu_and_auto():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected


def test_resolve_device_rejects_bad_names():
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu-ish")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without CUDA")
def test_resolve_device_cuda_without_gpu_says_what_to_do():
    with pytest.raises(ValueError, match="device='cpu'"):
        resolve_device("cuda")


def test_generators_are_reproducible_and_independent_of_global_rng():
    torch.manual_seed(123)
    a = torch.rand(5, generator=make_generator(7))
    torch.manual_seed(999)
    b = torch.rand(5, generator=make_generator(7))
    assert torch.equal(a, b)
    g = make_generator(3)
    assert make_generator(g) is g


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_make_generator_rejects_bad_seeds(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        make_generator(bad)


def test_autocast_is_a_noop_on_cpu():
    with autocast("cpu"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_moved_names_still_resolve_from_runtime():
    from mae_theory import results, throughput

    assert runtime.provenance is results.provenance and runtime.save_json is results.save_json
    assert runtime.peak_bf16_flops is throughput.peak_bf16_flops
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        runtime.nope  # noqa: B018


@pytest.mark.gpu
def test_autocast_is_bf16_on_cuda():
    with autocast("cuda"):
        y = torch.ones(8, 8, device="cuda") @ torch.ones(8, 8, device="cuda")
    assert y.dtype == torch.bfloat16
