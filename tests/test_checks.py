import numpy as np
import pytest
import torch

from mae_theory.checks import check_float, check_images, check_int, check_tensor


def test_check_int_refuses_bools_floats_and_out_of_range():
    assert check_int("depth", np.int64(3)) == 3
    with pytest.raises(TypeError, match=r"depth must be an integer; got True"):
        check_int("depth", True)
    with pytest.raises(TypeError, match=r"depth must be an integer; got 2.0"):
        check_int("depth", 2.0)
    with pytest.raises(ValueError, match=r"img_size \(H\) must be an integer >= 1; got -3"):
        check_int("img_size", -3, symbol="H")
    with pytest.raises(ValueError, match=r"in \[0, 5\]"):
        check_int("k", 6, low=0, high=5)


def test_check_float_interval_and_finiteness():
    assert check_float("r", 0, low=0, high=1, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"r must be a finite number in \[0, 1\); got 1.0"):
        check_float("r", 1.0, low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match="got nan"):
        check_float("lr", float("nan"), low=0)
    with pytest.raises(TypeError, match="lr must be a number"):
        check_float("lr", "0.1")


def test_check_tensor_names_numpy_fix_dtype_and_nonfinite():
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor.*torch.as_tensor"):
        check_tensor("x", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"x must be a 2-D tensor"):
        check_tensor("x", torch.zeros(3), ndim=2)
    with pytest.raises(TypeError, match=r"floating-point.*x.float\(\)"):
        check_tensor("x", torch.zeros(2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"finite \(no NaN or inf\); got 2 non-finite"):
        check_tensor("x", torch.tensor([[float("inf"), float("nan")]]))


def test_check_images_shape_channels_size_dtype():
    x = torch.zeros(2, 1, 8, 8)
    assert check_images("imgs", x, channels=1, size=(8, 8)) is x
    with pytest.raises(ValueError, match=r"non-empty batch"):
        check_images("imgs", torch.zeros(0, 1, 8, 8))
    with pytest.raises(ValueError, match=r"H x W = 4 x 4.*img_size=\(8, 8\)"):
        check_images("imgs", x, size=(4, 4))
    with pytest.raises(TypeError, match=r"torch.float32 tensor.*x.to\(torch.float32\)"):
        check_images("imgs", x.double(), dtype=torch.float32)
    with pytest.raises(ValueError, match="non-finite"):
        check_images("imgs", torch.full((1, 1, 2, 2), float("nan")))


def test_public_api_is_sorted_and_complete():
    import mae_theory as mt

    names = [n for n in mt.__all__ if not isinstance(getattr(mt, n), type(mt))]
    modules = [n for n in mt.__all__ if isinstance(getattr(mt, n), type(mt))]
    assert mt.__all__ == names + modules
    assert names == sorted(names) and modules == sorted(modules)
