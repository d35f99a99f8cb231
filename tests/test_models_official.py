"""Compatibility with facebookresearch/mae (``models_mae.py``, ``util/pos_embed.py``).

The official recipe is written out here independently, in numpy and plain torch (explicit
softmax attention, a Conv2d patch embedding), so the package is checked against it rather
than against itself: "a loaded official-format checkpoint gives the official numbers".
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mae_theory.masking import masking_from_noise
from mae_theory.models import MAE, sincos_pos_embed_2d

# ---- the official recipe, independently -----------------------------------------------------


def official_table(dim: int, side: int) -> np.ndarray:
    """get_2d_sincos_pos_embed(dim, side, cls_token=True): (1 + side^2, dim)."""
    grid_h = np.arange(side, dtype=np.float32)
    grid_w = np.arange(side, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0)  # w first: grid[0] is the w coordinate
    grid = grid.reshape(2, 1, side, side)

    def one_d(d, pos):
        omega = np.arange(d // 2, dtype=np.float64) / (d / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb_h = one_d(dim // 2, grid[0])  # the official name; it encodes grid[0] = w
    emb_w = one_d(dim // 2, grid[1])
    emb = np.concatenate([emb_h, emb_w], axis=1)
    return np.concatenate([np.zeros([1, dim]), emb], axis=0)


def official_state_dict(img=8, p=2, c=3, d=16, depth=2, dd=16, ddepth=2, mlp=4, seed=0):
    """Random tensors with the official key names and shapes (and the fixed tables)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.2, base=0.0):
        return base + scale * torch.randn(*shape, generator=g)

    side = img // p
    sd = {"cls_token": r(1, 1, d), "mask_token": r(1, 1, dd),
          "pos_embed": torch.from_numpy(official_table(d, side)).float()[None],
          "decoder_pos_embed": torch.from_numpy(official_table(dd, side)).float()[None],
          "patch_embed.proj.weight": r(d, c, p, p), "patch_embed.proj.bias": r(d),
          "norm.weight": r(d, base=1.0), "norm.bias": r(d),
          "decoder_embed.weight": r(dd, d), "decoder_embed.bias": r(dd),
          "decoder_norm.weight": r(dd, base=1.0), "decoder_norm.bias": r(dd),
          "decoder_pred.weight": r(p * p * c, dd), "decoder_pred.bias": r(p * p * c)}
    for prefix, n, w in (("blocks", depth, d), ("decoder_blocks", ddepth, dd)):
        for i in range(n):
            b = f"{prefix}.{i}."
            sd.update({b + "norm1.weight": r(w, base=1.0), b + "norm1.bias": r(w),
                       b + "attn.qkv.weight": r(3 * w, w), b + "attn.qkv.bias": r(3 * w),
                       b + "attn.proj.weight": r(w, w), b + "attn.proj.bias": r(w),
                       b + "norm2.weight": r(w, base=1.0), b + "norm2.bias": r(w),
                       b + "mlp.fc1.weight": r(mlp * w, w), b + "mlp.fc1.bias": r(mlp * w),
                       b + "mlp.fc2.weight": r(w, mlp * w), b + "mlp.fc2.bias": r(w)})
    return sd


def official_forward(sd, imgs, noise, mask_ratio, heads, dec_heads, norm_pix_loss):
    """models_mae.MaskedAutoencoderViT.forward with given noise, in plain torch."""
    p = sd["patch_embed.proj.weight"].shape[-1]

    def ln(x, pre):
        return F.layer_norm(x, x.shape[-1:], sd[pre + ".weight"], sd[pre + ".bias"], eps=1e-6)

    def lin(x, pre):
        return x @ sd[pre + ".weight"].T + sd[pre + ".bias"]

    def block(x, pre, h):
        b, n, c = x.shape
        qkv = lin(ln(x, pre + ".norm1"), pre + ".attn.qkv").reshape(b, n, 3, h, c // h)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * (c // h) ** -0.5).softmax(dim=-1)
        x = x + lin((attn @ v).transpose(1, 2).reshape(b, n, c), pre + ".attn.proj")
        hid = F.gelu(lin(ln(x, pre + ".norm2"), pre + ".mlp.fc1"))
        return x + lin(hid, pre + ".mlp.fc2")

    # encoder
    x = F.conv2d(imgs, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=p)
    x = x.flatten(2).transpose(1, 2) + sd["pos_embed"][:, 1:]
    n, length, d = x.shape
    len_keep = int(length * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x = torch.gather(x, 1, ids_keep.unsqueeze(-1).repeat(1, 1, d))
    mask = torch.ones(n, length)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    cls = (sd["cls_token"] + sd["pos_embed"][:, :1]).expand(n, -1, -1)
    x = torch.cat([cls, x], dim=1)
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        x = block(x, f"blocks.{i}", heads)
        i += 1
    latent = ln(x, "norm")
    # decoder
    x = lin(latent, "decoder_embed")
    mask_tokens = sd["mask_token"].repeat(n, length + 1 - x.shape[1], 1)
    x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
    x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
    x = torch.cat([x[:, :1], x_], dim=1) + sd["decoder_pos_embed"]
    i = 0
    while f"decoder_blocks.{i}.norm1.weight" in sd:
        x = block(x, f"decoder_blocks.{i}", dec_heads)
        i += 1
    pred = lin(ln(x, "decoder_norm"), "decoder_pred")[:, 1:]
    # loss (official patchify: nchpwq -> nhwpqc)
    c, hh, ww = imgs.shape[1], imgs.shape[2] // p, imgs.shape[3] // p
    target = torch.einsum("nchpwq->nhwpqc", imgs.reshape(n, c, hh, p, ww, p))
    target = target.reshape(n, hh * ww, p * p * c)
    if norm_pix_loss:
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = ((pred - target) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum(), pred, mask, latent, len_keep


# ---- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "grid"), [(16, 4), (32, 7), (192, 8), (768, 14)])
def test_position_tables_are_the_official_ones(dim, grid):
    ours = sincos_pos_embed_2d(dim, (grid, grid)).numpy()
    np.testing.assert_allclose(ours, official_table(dim, grid)[1:], atol=1e-6)
    mae = MAE(grid * 2, 2, 1, dim, 1, 4, 16, 1, 2, seed=0)
    np.testing.assert_allclose(mae.pos_embed[0].numpy(), official_table(dim, grid)[1:], atol=1e-6)


def test_first_half_of_the_table_encodes_the_column():
    e = sincos_pos_embed_2d(8, (3, 4)).reshape(3, 4, 8)
    assert torch.equal(e[0, :, :4], e[2, :, :4])  # same column -> same first half
    assert torch.equal(e[:, 1, 4:], e[:, 3, 4:])  # same row -> same second half


@pytest.mark.parametrize("norm_pix_loss", [False, True])
@pytest.mark.parametrize("mask_ratio", [0.75, 0.5])
def test_a_loaded_official_checkpoint_gives_the_official_numbers(norm_pix_loss, mask_ratio):
    sd = official_state_dict()
    model = MAE.from_official({"model": sd}, num_heads=2, decoder_num_heads=4,
                              norm_pix_loss=norm_pix_loss)
    assert (model.img_size, model.patch_size, model.in_chans) == ((8, 8), 2, 3)
    assert (len(model.blocks), len(model.decoder_blocks), model.mlp_ratio) == (2, 2, 4.0)
    g = torch.Generator().manual_seed(1)
    imgs = torch.randn(4, 3, 8, 8, generator=g)
    noise = torch.rand(4, 16, generator=g)
    with torch.no_grad():
        loss_o, pred_o, mask_o, latent_o, keep = official_forward(
            sd, imgs, noise, mask_ratio, heads=2, dec_heads=4, norm_pix_loss=norm_pix_loss)
        masking = masking_from_noise(noise, keep)
        loss, pred, mask = model(imgs, masking=masking)
        latent = model.forward_encoder(imgs, masking)
    torch.testing.assert_close(mask, mask_o)
    torch.testing.assert_close(latent, latent_o, atol=5e-6, rtol=1e-5)
    torch.testing.assert_close(pred, pred_o, atol=5e-6, rtol=1e-5)
    torch.testing.assert_close(loss, loss_o, atol=5e-6, rtol=1e-5)


def test_patch_embedding_is_the_official_conv():
    sd = official_state_dict()
    model = MAE.from_official(sd, num_heads=2, decoder_num_heads=4)
    imgs = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    conv = F.conv2d(imgs, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=2)
    torch.testing.assert_close(model.patch_embed(model.patchify(imgs)),
                               conv.flatten(2).transpose(1, 2), atol=1e-6, rtol=1e-5)


def test_official_heads_are_the_default_for_official_widths():
    sd = official_state_dict(d=768, depth=1, dd=512, ddepth=1, img=32, p=16)
    model = MAE.from_official(sd)
    assert model.blocks[0].attn.num_heads == 12
    assert model.decoder_blocks[0].attn.num_heads == 16


def test_mismatched_state_dicts_are_refused():
    sd = official_state_dict()
    with pytest.raises(ValueError, match=r"num_heads cannot be read .* pass num_heads="):
        MAE.from_official(sd)
    extra = dict(sd, **{"head.weight": torch.zeros(10, 16)})
    with pytest.raises(ValueError, match=r"unexpected keys \['head.weight'\]"):
        MAE.from_official(extra, num_heads=2, decoder_num_heads=4)
    missing = {k: v for k, v in sd.items() if k != "blocks.1.attn.qkv.bias"}
    with pytest.raises(ValueError, match=r"missing keys \['blocks.1.attn.qkv.bias'\]"):
        MAE.from_official(missing, num_heads=2, decoder_num_heads=4)
    side = 4
    transposed = sd["pos_embed"].clone()
    transposed[0, 1:] = transposed[0, 1:].reshape(side, side, -1).transpose(0, 1).reshape(16, -1)
    with pytest.raises(ValueError, match=r"pos_embed must be the official fixed 2-D sin-cos"):
        MAE.from_official(dict(sd, pos_embed=transposed), num_heads=2, decoder_num_heads=4)
    wrong = dict(sd, **{"blocks.0.mlp.fc2.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"blocks.0.mlp.fc2.bias must have shape \(16,\)"):
        MAE.from_official(wrong, num_heads=2, decoder_num_heads=4)
    with pytest.raises(ValueError, match=r"no 'patch_embed.proj.weight'"):
        MAE.from_official({"cls_token": torch.zeros(1, 1, 16)})
    with pytest.raises(TypeError, match=r"state_dict must be a dict"):
        MAE.from_official([1, 2])


def test_official_visible_count_is_used():
    model = MAE(20, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)  # L = 100
    masking = model.make_masking(2, 0.9, seed=0)
    assert masking.ids_keep.shape[1] == int(100 * (1 - 0.9)) == 9
    assert model.flops_per_image(0.9) < MAE(20, 2, 1, 16, 1, 2, 16, 1, 2).flops_per_image(0.89)
