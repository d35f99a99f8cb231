"""PCA subspaces: projector properties and variance shares."""

import pytest
import torch

from mae_theory.spectral import bottom_dims, fit_pca, project, top_dims, variance_share

X = torch.randn(200, 6, generator=torch.Generator().manual_seed(0)) * torch.tensor(
    [5.0, 3.0, 2.0, 1.0, 0.5, 0.1])


def test_projection_is_idempotent_and_complementary():
    pca = fit_pca(X)
    top, rest = [0, 1], [2, 3, 4, 5]
    p = project(X, pca, top)
    assert torch.allclose(project(p, pca, top), p, atol=1e-5)
    recon = project(X, pca, top) + project(X, pca, rest) - pca.mean.float()
    assert torch.allclose(recon, X, atol=1e-5)


def test_coordinates_have_the_pca_variances():
    pca = fit_pca(X)
    coords = project(X, pca, range(6), coordinates=True).double()
    assert torch.allclose(coords.var(dim=0), pca.variances, rtol=1e-4)
    assert variance_share(pca, range(6)) == pytest.approx(1.0)
    assert variance_share(pca, [0]) + variance_share(pca, range(1, 6)) == pytest.approx(1.0)


def test_top_and_bottom_dims_reach_the_share():
    pca = fit_pca(X)
    for share in (0.2, 0.5, 0.9):
        top, bottom = top_dims(pca, share), bottom_dims(pca, share)
        assert variance_share(pca, top) >= share > variance_share(pca, top[:-1]) if len(
            top) > 1 else variance_share(pca, top) >= share
        assert variance_share(pca, bottom) >= share
        assert bottom.max().item() == 5 and top.min().item() == 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="N >= 2"):
        fit_pca(torch.zeros(1, 3))
    pca = fit_pca(X)
    with pytest.raises(ValueError, match="dims S"):
        variance_share(pca, [7])
    with pytest.raises(ValueError, match="share must"):
        top_dims(pca, 0.0)
    with pytest.raises(ValueError, match="D=6"):
        project(torch.zeros(3, 5), pca, [0])
    with pytest.raises(TypeError, match="dims S must be integer component indices"):
        variance_share(pca, [0.5])  # used to be truncated to component 0
    with pytest.raises(ValueError, match=r"share must be a finite number in \(0.0, 1.0\]"):
        bottom_dims(pca, float("nan"))
    with pytest.raises(ValueError, match="x must be finite"):
        fit_pca(torch.full((4, 3), float("nan")))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fit_pca(X.numpy())
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        project(X.long(), pca, [0])
    with pytest.raises(ValueError, match="zero variance"):
        top_dims(fit_pca(torch.ones(5, 3)), 0.5)
    with pytest.raises(TypeError, match="pca must be a PCA"):
        variance_share(None, [0])


def test_index_containers_give_the_same_share():
    pca = fit_pca(X)
    ref = variance_share(pca, [0, 2])
    assert variance_share(pca, torch.tensor([0, 2])) == ref
    assert variance_share(pca, range(0, 3, 2)) == ref
    assert variance_share(pca, torch.tensor(2)) == variance_share(pca, [2])
