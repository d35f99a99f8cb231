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
    from mae_theory import MAE

    def make(**kw):
        args = dict(img_size=8, patch_size=2, in_chans=1, embed_dim=16, depth=1, num_heads=2,
                    decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
        seed = kw.pop("seed", 0)
        args.update(kw)
        return MAE(**args, seed=seed)

    return make
