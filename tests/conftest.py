import pytest
import torch

# The models under test are tiny: one thread is as fast as two when idle and three times faster when
# another process wants a core (see the Makefile). Tests only; the library sets no thread count.
torch.set_num_threads(1)


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
