"""Towers and heads on tiny configs: shapes, prompts, gradients, seeding."""
import pytest
import torch

from xmodal.alignment.config import load_config
from xmodal.alignment.heads import Head, make_head
from xmodal.alignment.towers.audio import build_audio_tower
from xmodal.alignment.towers.image import TinyConvTower, build_image_tower
from xmodal.alignment.towers.text import build_text_tower, mean_pool


@pytest.fixture(scope="module")
def cfg():
    return load_config("tiny")


@pytest.fixture(scope="module")
def text_tower(cfg):
    tower, files = build_text_tower(cfg.text, seed=1)
    assert files and files[0].name == "vocab.txt"
    return tower.eval()


def test_mean_pool_matches_manual_average():
    tokens = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = mean_pool(tokens, mask)
    assert torch.allclose(out[0], tokens[0, :2].mean(0))
    assert torch.allclose(out[1], tokens[1].mean(0))


def test_text_features_shape_and_padding_invariance(text_tower):
    tok = text_tower.tokenize(["a cat", "a much longer sentence about a cat"])
    with torch.no_grad():
        both = text_tower.features(tok["input_ids"], tok["attention_mask"])
        alone_tok = text_tower.tokenize(["a cat"])
        alone = text_tower.features(alone_tok["input_ids"], alone_tok["attention_mask"])
    assert both.shape == (2, text_tower.out_dim)
    # padding in a batch must not change a sentence's features
    assert torch.allclose(both[0], alone[0], atol=1e-5)


def test_prompt_changes_features_and_gets_gradients(text_tower):
    tok = text_tower.tokenize(["a cat", "a dog"], n_ctx=3)
    prompt = torch.randn(3, text_tower.hidden, requires_grad=True)
    with_prompt = text_tower.features(tok["input_ids"], tok["attention_mask"], prompt=prompt)
    without = text_tower.features(tok["input_ids"], tok["attention_mask"])
    assert with_prompt.shape == without.shape
    assert not torch.allclose(with_prompt, without)
    with_prompt.pow(2).sum().backward()
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0
    # the tower itself is not what prompt training updates, but it is reachable
    assert text_tower.bert.embeddings.word_embeddings.weight.grad is not None


def test_prompt_respects_max_tokens(text_tower):
    long = " ".join(["word"] * 500)
    tok = text_tower.tokenize([long], n_ctx=4)
    assert tok["input_ids"].shape[1] + 4 == text_tower.max_tokens


def test_tiny_image_tower_is_seeded(cfg):
    a, files = build_image_tower(cfg.image, seed=5)
    b, _ = build_image_tower(cfg.image, seed=5)
    c, _ = build_image_tower(cfg.image, seed=6)
    assert files == [] and isinstance(a, TinyConvTower)
    x = torch.randn(2, 3, cfg.image.image_size, cfg.image.image_size)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        assert not torch.equal(a(x), c(x))
        assert a(x).shape == (2, cfg.image.channels[-1])


def test_audio_tower_accepts_3d_and_4d(cfg):
    tower, _ = build_audio_tower(cfg.audio, seed=0)
    mel = torch.randn(3, cfg.audio.n_mels, 101)
    with torch.no_grad():
        assert torch.allclose(tower(mel), tower(mel.unsqueeze(1)))
        assert tower(mel).shape == (3, tower.out_dim)


def test_seeding_does_not_disturb_global_rng():
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    make_head(8, 4, "mlp", seed=123)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kind", ["linear", "mlp", "identity"])
def test_head_kinds(kind):
    head = make_head(6, 6, kind, seed=0)
    x = torch.randn(4, 6)
    y = head(x)
    assert y.shape == (4, 6)
    if kind == "identity":
        assert torch.equal(x, y)
    again = make_head(6, 6, kind, seed=0)
    assert torch.equal(again(x), y)


def test_head_rejects_bad_arguments():
    with pytest.raises(ValueError):
        Head(4, 4, "conv")
    with pytest.raises(ValueError):
        Head(4, 5, "identity")
