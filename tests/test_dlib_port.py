"""The dlib face ResNet port is dlib's network: same descriptor as dlib's own API, on dlib's own face chips.

Input scaling: the shipped file's input layer (``input_rgb_image_sized``)
records the mean (122.782, 117.001, 104.298) for R, G, B and dlib divides by
256: ``(pixel - mean) / 256``. The port takes ImageNet-normalised tensors, as
the other backbones do, and undoes that normalisation first.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from mgmtn.config import shared_data
from mgmtn.data.synth import generate
from mgmtn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from mgmtn.errors import MgmtnError
from mgmtn.masks.annotators import dlib_model_path
from mgmtn.models import UNet, build_model, create_backbone
from mgmtn.models.dlib_file import read_network
from mgmtn.models.dlib_resnet import DLIB_MEAN, DlibResNet, dlib_resnet29, shipped_weights

dlib = pytest.importorskip("dlib", reason="dlib is not installed: the port has no reference to be checked against")

FACES = 20
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def port() -> DlibResNet:
    return dlib_resnet29().eval()


def chips(folder: Path, n: int = FACES) -> list[np.ndarray]:
    """dlib's 150 px chips of the first ``n`` faces of a CelebA-layout folder: 5-point shape, ``get_face_chip``.

    The face box is the HOG detector's, or the central box where it finds none
    (synthetic faces): the predictor still places its five points.
    """
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path().with_name("shape_predictor_5_face_landmarks.dat")))
    out = []
    for path in sorted((folder / "img_align_celeba").glob("*.jpg"))[:n]:
        image = np.asarray(Image.open(path).convert("RGB"))
        h, w = image.shape[:2]
        boxes = detector(image, 0)
        box = boxes[0] if boxes else dlib.rectangle(w // 5, h // 4, w - w // 5, h - h // 5)
        out.append(dlib.get_face_chip(image, predictor(image, box), size=150))
    return out


def max_difference(port: DlibResNet, faces: list[np.ndarray]) -> float:
    reference = dlib.face_recognition_model_v1(str(shipped_weights()))
    expected = np.stack([np.asarray(reference.compute_face_descriptor(chip)) for chip in faces])
    batch = torch.stack([TF.normalize(TF.to_tensor(chip), IMAGENET_MEAN, IMAGENET_STD) for chip in faces])
    with torch.no_grad():
        found = port(batch).numpy()
    return float(np.abs(found - expected).max())


def test_the_port_gives_dlibs_descriptor_on_dlibs_face_chips(port, tmp_path):
    """On the real subset's first 20 faces where it is present, else on 20 synthetic faces (dlib: ~0.5 s a face)."""
    folder = shared_data("celeba-subset") or generate(tmp_path / "faces", n=FACES, progress=False)
    faces = chips(folder)
    assert len(faces) == FACES
    assert max_difference(port, faces) <= TOLERANCE


def test_the_file_records_the_mean_the_port_assumes():
    network = read_network(shipped_weights())
    assert network.size == (150, 150)
    np.testing.assert_allclose(network.mean, DLIB_MEAN, atol=1e-4)
    assert sum(layer.kind == "con" for layer in network.layers) == 29


# --- as a backbone ------------------------------------------------------------------------------

def test_stage_maps_and_feature_info():
    backbone = create_backbone("dlib-resnet29", levels=(3, 4, 5)).eval()
    assert backbone.feature_info.channels() == [64, 128, 256]
    assert backbone.feature_info.reduction() == [8, 16, 32]
    with torch.no_grad():
        maps = backbone(torch.randn(2, 3, 150, 150))
    assert [tuple(m.shape) for m in maps] == [(2, 64, 17, 17), (2, 128, 8, 8), (2, 256, 4, 4)]
    # dlib's stride-2 convs have no padding: 112 px gives smaller maps than a timm ResNet's 14, 7, 4.
    with torch.no_grad():
        assert [m.shape[-1] for m in backbone(torch.randn(1, 3, 112, 112))] == [13, 6, 3]
    assert not hasattr(create_backbone("dlib-resnet29", levels=(3,), pretrained=False).stages, "2")


def test_a_truncated_extractor_holds_the_file_weights(port):
    backbone = create_backbone("dlib-resnet29", levels=(3, 4), pretrained=True)
    full, extractor = port.state_dict(), backbone.state_dict()
    added = {key for key in extractor if key not in full}
    assert added and all(key.startswith("norms.") for key in added)  # the batch norms the heads read through
    for key in extractor.keys() - added:
        assert torch.equal(extractor[key], full[key]), key
    with torch.no_grad():  # training-mode batch norm: every returned map centred per channel
        maps = backbone.train()(torch.rand(4, 3, 150, 150))
    assert all(m.mean((0, 2, 3)).abs().max() < 1e-4 for m in maps)


@pytest.mark.parametrize("name", ["global", "mgmtn", "dmm-cnn", "mgg-net", "far-amtn", "cascade"])
def test_every_parameter_gets_a_gradient(name):
    unet = UNet(base_width=4, depth=2, input_size=32)
    model = build_model(name, backbone="dlib-resnet29", unet=unet, pretrained=True)
    model(torch.randn(2, 3, 112, 112)).logits.sum().backward()
    trained = [p for p in model.parameters() if p.requires_grad]
    assert trained and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained)


def test_a_file_that_is_not_that_network_fails_in_one_line(tmp_path):
    for name, data in [("empty.dat", b""), ("text.dat", b"hello world"),
                       ("cut.dat", shipped_weights().read_bytes()[:100_000])]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(MgmtnError) as err:
            create_backbone("dlib-resnet29", pretrained_file=path)
        assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    # a real dlib network of another shape: the 68-point landmark model is no network at all
    with pytest.raises(MgmtnError, match="not a dlib face-recognition network"):
        read_network(dlib_model_path())
    network = read_network(shipped_weights())
    del network.layers[5]  # a network with one layer fewer: the check names the first layer that differs
    with pytest.raises(MgmtnError, match=r"not dlib's face-recognition ResNet: layer 5 is \('relu'"):
        DlibResNet().load_dlib(network, "other.dat")
    with pytest.raises(MgmtnError, match="no such dlib network file"):
        create_backbone("dlib-resnet29", pretrained_file=tmp_path / "missing.dat")
    with pytest.raises(MgmtnError, match="levels"):
        create_backbone("dlib-resnet29", levels=(5, 3))
