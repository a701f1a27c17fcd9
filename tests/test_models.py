"""Models of Table 3 / Fig. 9, their backbone, UNet and mask handling (tiny backbone, 64 px, CPU)."""

import time

import huggingface_hub
import pytest
import timm
import torch

from mgmtn.attributes import GROUPS, attribute_index
from mgmtn.errors import MgmtnError
from mgmtn.models import MASK_MODELS, MODEL_NAMES, ModelOutput, UNet, build_model, create_backbone
from mgmtn.models.mgmtn import ATTENTION_KINDS, MGMTN, feature_regions, pool_global, scale_masks
from mgmtn.models.unet import mask_counts, mask_f1

SIZE = 64
# timm zero-initialises the last BatchNorm of each residual block, which leaves the conv before it
# without gradient on the first step; the gradient test needs every parameter live.
LIVE = dict(backbone_kwargs=dict(zero_init_last=False))


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return UNet(base_width=4, depth=2)


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, SIZE, SIZE)


def quadrant_masks(groups: int = 8, size: int = SIZE) -> torch.Tensor:
    """Every group's mask is the top-left quadrant."""
    masks = torch.zeros(1, groups, size, size)
    masks[..., : size // 2, : size // 2] = 1
    return masks


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shapes(name, unet, images):
    model = build_model(name, backbone="tiny", unet=unet).eval()
    with torch.no_grad():
        out = model(images)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 40) and torch.isfinite(out.logits).all()
    if name in MASK_MODELS:
        assert out.masks.shape == (2, 8, SIZE, SIZE)
        assert 0 <= out.masks.min() and out.masks.max() <= 1
    else:
        assert out.masks is None


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_trainable_parameter_gets_gradient_and_unet_none(name, unet, images):
    model = build_model(name, backbone="tiny", unet=unet, **LIVE).train()
    torch.nn.functional.binary_cross_entropy_with_logits(model(images).logits, torch.ones(2, 40) / 2).backward()
    for pname, param in model.named_parameters():
        if pname.startswith("unet."):
            assert not param.requires_grad and param.grad is None, pname
        else:
            assert param.grad is not None and param.grad.abs().sum() > 0, pname
    if name in MASK_MODELS:
        assert model.unet is unet and not unet.training


def test_unet_stays_frozen_in_train_mode(unet):
    model = build_model("mgmtn", backbone="tiny", unet=unet).train()
    assert model.training and model.backbone.training
    assert not model.unet.training
    assert not any(p.requires_grad for p in model.unet.parameters())


@pytest.mark.parametrize("backbone", ["resnet50", "resnest50d"])
def test_full_model_fuses_3584_features_on_resnet50(backbone, unet, images):
    model = build_model("mgmtn", backbone=backbone, unet=unet).eval()
    assert model.feature_dim == 512 + 1024 + 2048 == 3584
    assert all(head[0].in_features == 3584 for head in model.head.heads)
    with torch.no_grad():
        assert model(images).logits.shape == (2, 40)


def test_ablation_feature_sizes(unet):
    channels = create_backbone("tiny").feature_info.channels()
    dims = {name: build_model(name, backbone="tiny", unet=unet).feature_dim for name in MODEL_NAMES}
    assert dims["global"] == dims["ag"] == channels[2]
    assert dims["aml-gr4"] == channels[1]
    assert dims["aml-gr34"] == channels[0] + channels[1]
    assert dims["aml-global"] == dims["mgmtn"]  # the same features, without the attention
    assert dims["mgmtn"] == dims["mgmtn-sa"] == dims["mgmtn-ca-sa"] == sum(channels)


def test_logits_follow_celeba_order(images):
    # Make the Hair head (Table 1: Bald, Bangs, ...) output 1, 2, ...: they must land on their CelebA columns.
    model = build_model("ag", backbone="tiny").eval()
    hair = model.head.heads[6][-1]
    torch.nn.init.zeros_(hair.weight)
    hair.bias.data = torch.arange(1.0, 11.0)
    logits = model(images).logits
    for k, attr in enumerate(GROUPS["Hair"]):
        assert torch.all(logits[:, attribute_index(attr)] == k + 1)


def test_build_model_errors(unet):
    with pytest.raises(MgmtnError, match="unknown model"):
        build_model("nope", backbone="tiny")
    with pytest.raises(MgmtnError, match="UNet"):
        build_model("mgmtn", backbone="tiny")
    with pytest.raises(MgmtnError, match="attention"):
        build_model("mgmtn", backbone="tiny", unet=unet, attention="xx")


# --- masks: AML region selection -------------------------------------------------------------

@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_group_vector_depends_only_on_its_region(attention, unet):
    model = MGMTN("tiny", unet, scales=(3, 4), use_global=False, attention=attention).eval()
    torch.manual_seed(2)
    c3, c4 = model.backbone.feature_info.channels()
    features = [torch.randn(1, c3, 8, 8).relu(), torch.randn(1, c4, 4, 4).relu()]
    masks = quadrant_masks()
    with torch.no_grad():
        base, _ = model.fuse_features(features, masks)
        outside = [f.clone() for f in features]
        for f in outside:
            half = f.shape[-1] // 2
            f[..., half:, :] += 5 * torch.rand_like(f[..., half:, :])
            f[..., :half, half:] -= 3
        inside = [f.clone() for f in features]
        for f in inside:
            f[..., 0, 0] += 5
        assert torch.equal(model.fuse_features(outside, masks)[0], base)
        assert not torch.equal(model.fuse_features(inside, masks)[0], base)


def stacked_fusion(model, features, masks):
    """The fusion as first written, the reference of the faster one: every group's masked maps stacked as
    (B, G, C, H, W), the attention module run on the stack, then the region max."""
    masks = scale_masks(masks >= 0.5, model.mask_scale)
    vectors, positions = [], {}
    for level, fmap, attention in zip(model.scales, features, model.attention):
        region = feature_regions(masks, fmap.shape[-2:])
        groups = attention(fmap.unsqueeze(1) * region.unsqueeze(2))
        vector, positions[f"F{level}"] = groups.masked_fill(~region.unsqueeze(2), float("-inf")).flatten(-2).max(-1)
        vectors.append(vector)
    if model.use_global:
        pooled, positions["F5"] = pool_global(features[-1], model.global_pool)
        vectors.append(pooled.unsqueeze(1).expand(-1, 8, -1))
    return torch.cat(vectors, dim=-1), positions


@pytest.mark.parametrize("name", MASK_MODELS)
@pytest.mark.parametrize("global_pool", ["max", "avg"])
def test_fusion_equals_the_stacked_reference_in_values_positions_and_gradients(name, global_pool, unet, images):
    model = build_model(name, backbone="tiny", unet=unet, global_pool=global_pool, **LIVE).train()
    torch.manual_seed(4)
    for conv in model.attention.modules():  # trained attention is not the near-constant 0.5 of a fresh one
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.normal_(conv.weight, std=0.5)
    with torch.no_grad():
        features = model.backbone(torch.cat([images, images.flip(-1)]))  # post-ReLU: many tied zeros
    masks = torch.rand(4, 8, SIZE, SIZE)
    masks[1, 3] = 0  # an empty mask: the whole map
    results = []
    for fuse in (model.fuse_features, lambda f, m: stacked_fusion(model, f, m)):
        leaves = [f.clone().requires_grad_() for f in features]
        model.zero_grad()
        fused, positions = fuse(leaves, masks)
        fused.backward(torch.linspace(-1, 1, fused.numel()).reshape(fused.shape))
        grads = [p.grad.clone() for p in model.attention.parameters()]
        results.append((fused, positions, [leaf.grad for leaf in leaves], grads))
    (fused, positions, map_grads, grads), (ref, ref_positions, ref_map_grads, ref_grads) = results
    torch.testing.assert_close(fused, ref)
    assert ref_positions.keys() == positions.keys()
    assert all(torch.equal(positions[level], where) for level, where in ref_positions.items())
    for a, b in zip(map_grads + grads, ref_map_grads + ref_grads):
        torch.testing.assert_close(a, b)


def test_masks_come_from_the_unet_as_before(images):
    torch.manual_seed(5)
    unet = UNet(base_width=4, depth=2, input_size=48).eval()
    model = build_model("mgmtn", backbone="tiny", unet=unet).train()
    with torch.no_grad():
        reference = unet(torch.nn.functional.interpolate(images, size=(48, 48), mode="bilinear",
                                                         antialias=True)).sigmoid()
    masks = model.predict_masks(images)
    assert masks.is_contiguous() and not masks.requires_grad
    torch.testing.assert_close(masks, reference)


def test_empty_mask_falls_back_to_whole_map(unet):
    model = MGMTN("tiny", unet, scales=(3, 4), use_global=False, attention=None).eval()
    c3, c4 = model.backbone.feature_info.channels()
    features = [torch.randn(1, c3, 8, 8), torch.randn(1, c4, 4, 4)]
    masks = quadrant_masks()
    masks[:, 2] = 0
    fused, positions = model.fuse_features(features, masks)
    whole = torch.cat([f.flatten(-2).amax(-1) for f in features], dim=1)
    quadrant = torch.cat([f[..., : f.shape[-1] // 2, : f.shape[-1] // 2].flatten(-2).amax(-1) for f in features], 1)
    assert torch.equal(fused[:, 2], whole)
    assert torch.equal(fused[:, 0], quadrant)  # negative features: outside cells must not win the max
    assert positions["F3"].shape == (1, 8, c3)


def test_region_smaller_than_a_cell_keeps_its_cell():
    masks = torch.zeros(1, 1, SIZE, SIZE, dtype=torch.bool)
    masks[..., 10, 11] = True  # one pixel inside cell (1, 1) of an 8 x 8 grid
    region = feature_regions(masks, (8, 8))
    assert region.sum() == 1 and region[0, 0, 1, 1]
    masks[..., :33, :16] = True  # half-covered cells join, barely touched ones do not
    assert feature_regions(masks, (8, 8))[0, 0].sum() == 4 * 2


@pytest.mark.parametrize("ratio", [0.64, 0.81, 1.0, 1.21, 1.44])
def test_mask_scale_changes_area_by_ratio(ratio):
    masks = torch.zeros(2, 8, SIZE, SIZE, dtype=torch.bool)
    masks[0, :, 20:40, 22:42] = True  # 20 x 20
    masks[1, :, 10:20, 5:35] = True  # 10 x 30
    masks[1, 3] = False
    scaled = scale_masks(masks, ratio)
    area = scaled.flatten(-2).sum(-1).float()
    assert area[0] == pytest.approx(torch.full((8,), 400 * ratio), abs=1e-3)
    assert area[1, 0] == pytest.approx(300 * ratio, abs=1e-3)
    assert area[1, 3] == 0
    rows, cols = scaled[0, 0].nonzero().float().mean(0)
    assert (rows.item(), cols.item()) == pytest.approx((29.5, 31.5))  # grown about the centre


def test_mask_scale_option_reaches_the_regions(unet):
    fused = {}
    for ratio in (0.64, 1.44):
        model = build_model("aml-gr34", backbone="tiny", unet=unet, mask_scale=ratio).eval()
        torch.manual_seed(3)
        c3, c4 = model.backbone.feature_info.channels()
        features = [torch.rand(1, c3, 8, 8), torch.rand(1, c4, 4, 4)]
        fused[ratio] = model.fuse_features(features, quadrant_masks())[0]
    assert not torch.equal(fused[0.64], fused[1.44])


def test_positions_lie_in_group_regions(unet, images):
    model = build_model("mgmtn", backbone="tiny", unet=unet).eval()
    model.predict_masks = lambda x: quadrant_masks().expand(len(x), -1, -1, -1)
    with torch.no_grad():
        out = model(images, return_positions=True)
    sizes = out.extras["feature_sizes"]
    assert sizes == {"F3": (8, 8), "F4": (4, 4), "F5": (2, 2)}
    for level in ("F3", "F4"):
        height, width = sizes[level]
        positions = out.extras["positions"][level]  # (B, 8, C) flat indices
        rows, cols = positions // width, positions % width
        assert rows.max() < height // 2 and cols.max() < width // 2
    assert out.extras["positions"]["F5"].shape == (2, model.backbone.feature_info.channels()[-1])


def test_an_average_pooled_global_feature_still_gives_its_argmax_cells():
    x = torch.zeros(1, 2, 2, 2)
    x[0, 0, 1, 0], x[0, 1, 0, 1] = 3.0, 5.0
    pooled, positions = pool_global(x, "avg")
    torch.testing.assert_close(pooled, torch.tensor([[0.75, 1.25]]))
    assert positions.tolist() == [[2, 1]] and pool_global(x, "max")[1].tolist() == [[2, 1]]


# --- backbone ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet18", "resnet50", "tiny"])
def test_backbone_channels_come_from_timm(name):
    model = create_backbone(name)
    arch = "resnet10t" if name == "tiny" else name
    kwargs = dict(channels=(16, 32, 64, 128), stem_width=16) if name == "tiny" else {}
    reference = timm.create_model(arch, features_only=True, **kwargs).feature_info
    assert model.feature_info.channels() == reference.channels()[2:]
    assert model.feature_info.reduction() == [8, 16, 32]
    assert [f.shape[-1] for f in model.eval()(torch.randn(1, 3, 227, 227))] == [29, 15, 8]


def test_backbone_stops_at_the_deepest_level():
    assert not hasattr(create_backbone("tiny", levels=(4,)), "layer4")


def test_pretrained_offline_fails_fast_with_one_clear_line(monkeypatch, tmp_path):
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: patch its constant as well as the variable.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    start = time.perf_counter()
    with pytest.raises(MgmtnError) as err:
        create_backbone("resnet18", pretrained=True)
    assert time.perf_counter() - start < 5.0  # no network retries (each waits seconds); loose for a loaded machine
    message = str(err.value)
    assert "\n" not in message
    assert "resnet18" in message and "offline" in message
    assert "pretrained_file" in message and "pretrained=False" in message


def test_local_weights_file_loads_the_same_weights(tmp_path):
    torch.manual_seed(4)
    reference = timm.create_model("resnet10t", channels=(16, 32, 64, 128), stem_width=16)
    path = tmp_path / "tiny.pth"
    torch.save(reference.state_dict(), path)
    model = create_backbone("tiny", pretrained_file=path)
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_weights_file_errors(tmp_path):
    with pytest.raises(MgmtnError, match="does not exist"):
        create_backbone("tiny", pretrained_file=tmp_path / "missing.pth")
    torch.save(timm.create_model("resnet18").state_dict(), tmp_path / "r18.pth")
    with pytest.raises(MgmtnError, match="tiny"):
        create_backbone("tiny", pretrained_file=tmp_path / "r18.pth")
    with pytest.raises(MgmtnError, match="no published weights"):
        create_backbone("tiny", pretrained=True)
    with pytest.raises(MgmtnError, match="unknown backbone"):
        create_backbone("resnet-nope")


# --- UNet ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(64, 64), (50, 70)])
def test_unet_any_size_eight_heads(shape):
    model = UNet(base_width=4, depth=3).eval()
    assert len(model.heads) == 8 and all(h.out_channels == 1 for h in model.heads)
    assert model(torch.randn(2, 3, *shape)).shape == (2, 8, *shape)


def test_unet_input_size_is_used_for_masks():
    model = build_model("aml-gr4", backbone="tiny", unet=UNet(base_width=4, depth=2, input_size=32)).eval()
    assert model(torch.randn(2, 3, SIZE, SIZE)).masks.shape == (2, 8, 32, 32)


def test_mask_f1_hand_computed():
    target = torch.zeros(1, 8, 2, 2)
    target[0, 0] = torch.tensor([[1, 1], [0, 0]])
    pred = torch.zeros(1, 8, 2, 2)
    pred[0, 0] = torch.tensor([[0.9, 0.2], [0.7, 0.1]])  # tp 1, fp 1, fn 1 -> F1 = 2/(2+1+1)
    pred[0, 1, 0, 0] = 0.8  # false positive only -> 0
    assert mask_counts(pred, target)[0].tolist() == [1, 1, 1]
    f1 = mask_f1(pred, target)
    assert f1[0] == pytest.approx(0.5) and f1[1] == 0 and torch.all(f1[2:] == 1)
    assert torch.equal(mask_f1(torch.logit(pred.clamp(1e-4, 1 - 1e-4)), target, logits=True), f1)
