import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tiny_mae():
    from mae_theory.models import mae_micro

    def make(**kw):
        kw.setdefault("seed", 0)
        return mae_micro(**kw)  # 8 px, p=2, C=1, D=16 x 1 block, decoder 16 x 1

    return make
