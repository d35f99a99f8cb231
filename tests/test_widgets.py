import matplotlib
import pytest

matplotlib.use("Agg")

from mae_theory import MAE, load_digits  # noqa: E402
from mae_theory.widgets import reconstruction_explorer  # noqa: E402


def test_reconstruction_explorer_builds_and_refuses_no_models():
    data = load_digits()
    mae = MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    box = reconstruction_explorer({2: mae}, data, mask_ratio=0.5)
    sliders = box.children[0].children
    assert sliders[0].value == 0.5 and sliders[1].max == len(data) - 1
    with pytest.raises(ValueError, match="models is empty"):
        reconstruction_explorer({}, data)
