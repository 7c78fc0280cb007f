"""openclip / hfclip / clap stacks: real loading code exercised with tiny
random models saved to a tmp dir (no network), plus offline failures."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from xmodal.alignment import MissingWeights, UnknownModel, load_encoder
from xmodal.alignment.towers.text import minilm_dir


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Behave as on a machine without network, even if this one has one:
    the hub probe fails, so the loaders must switch the hub client offline."""
    import huggingface_hub.constants as hf_constants

    from xmodal.alignment.stacks import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=2.0: False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    yield
    assert hf_constants.HF_HUB_OFFLINE is False  # restored after each load


def _unit(x):
    x = x.detach().numpy() if isinstance(x, torch.Tensor) else x
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _pooled(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _bert_tokenizer(path):
    from transformers import BertTokenizerFast

    BertTokenizerFast.from_pretrained(str(minilm_dir())).save_pretrained(str(path))


# ---------------------------------------------------------------- open_clip

@pytest.fixture(scope="module")
def tiny_openclip(tmp_path_factory):
    import open_clip
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("openclip")
    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (d / "xmodal-test-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / "xmodal-test-clip.json")
    torch.manual_seed(3)
    model = open_clip.create_model("xmodal-test-clip").eval()
    ckpt = d / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    return model, ckpt


@pytest.mark.slow
def test_openclip_local_safetensors(tiny_openclip):
    import open_clip

    model, ckpt = tiny_openclip
    stack = load_encoder(f"openclip:xmodal-test-clip/{ckpt}")
    assert stack.dim == 16 and stack.modalities == ["text", "image"]
    tok = open_clip.get_tokenizer("xmodal-test-clip")(["a cat", "a dog"])
    with torch.no_grad():
        ref = _unit(model.encode_text(tok))
    assert np.allclose(stack.encode_text(["a cat", "a dog"]), ref, atol=1e-5)
    im = Image.new("RGBA", (48, 40), (255, 0, 0, 0))
    vec = stack.encode_images([im])
    _, _, preprocess = open_clip.create_model_and_transforms("xmodal-test-clip")
    with torch.no_grad():
        ref_im = _unit(model.encode_image(preprocess(Image.new("RGB", (48, 40), "white")).unsqueeze(0)))
    assert np.allclose(vec, ref_im, atol=1e-5)  # transparent -> white before CLIP's transform
    with pytest.raises(Exception, match="soft prompts"):
        enc = stack.encoder("text")
        enc.prompt = torch.zeros(2, 32)
        enc.encode(["x"])


def test_openclip_offline_and_bad_specs(tmp_path):
    with pytest.raises(MissingWeights) as err:
        load_encoder("openclip:ViT-B-32/laion2b_s34b_b79k")
    line = str(err.value)
    assert "\n" not in line and "lite" in line and "tiny" in line and "local" in line
    with pytest.raises(MissingWeights, match="not found"):
        load_encoder(f"openclip:ViT-B-32/{tmp_path / 'missing.safetensors'}")
    with pytest.raises(UnknownModel, match="unknown architecture"):
        load_encoder("openclip:No-Such-Arch/openai")
    with pytest.raises(UnknownModel):
        load_encoder("openclip")


# ---------------------------------------------------------------- transformers CLIP / SigLIP

def _save_clip(d, siglip=False):
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, SiglipConfig,
                              SiglipImageProcessor, SiglipModel)

    text = {"vocab_size": 30522, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 24}
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
              "num_attention_heads": 2, "image_size": 32, "patch_size": 16}
    torch.manual_seed(4)
    if siglip:
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).eval()
        SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(str(d))
    else:
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
        CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(str(d))
    model.save_pretrained(str(d))
    _bert_tokenizer(d)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("siglip", [False, True])
def test_hfclip_local_dir(tmp_path, siglip):
    from transformers import BertTokenizerFast

    model = _save_clip(tmp_path, siglip)
    assert list(tmp_path.glob("*.safetensors"))
    stack = load_encoder(f"hfclip:{tmp_path}")
    tok = BertTokenizerFast.from_pretrained(str(tmp_path))
    kw = {"padding": "max_length", "max_length": 24} if siglip else {"padding": True}
    enc = tok(["a cat", "a red car"], return_tensors="pt", **kw)
    with torch.no_grad():
        if siglip:
            ref = _unit(_pooled(model.get_text_features(input_ids=enc["input_ids"])))
        else:
            ref = _unit(_pooled(model.get_text_features(input_ids=enc["input_ids"],
                                                        attention_mask=enc["attention_mask"])))
    assert np.allclose(stack.encode_text(["a cat", "a red car"]), ref, atol=1e-5)
    img = stack.encode_images([Image.new("RGB", (40, 30), (0, 120, 0))])
    assert img.shape == (1, stack.dim) and np.isclose(np.linalg.norm(img), 1.0)
    assert load_encoder(f"hfclip:{tmp_path}").fingerprint == stack.fingerprint


def test_hfclip_offline_and_bad_dirs(tmp_path):
    with pytest.raises(MissingWeights) as err:
        load_encoder("hfclip:openai/clip-vit-base-patch32")
    assert "\n" not in str(err.value) and "lite" in str(err.value)
    with pytest.raises(MissingWeights, match="not a model directory"):
        load_encoder(f"hfclip:{tmp_path / 'nope'}")
    with pytest.raises(MissingWeights):
        load_encoder(f"hfclip:{tmp_path}")  # an empty dir


# ---------------------------------------------------------------- CLAP

@pytest.mark.slow
def test_clap_local_dir(tmp_path):
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    audio = ClapAudioConfig(num_mel_bins=16, window_size=4, spec_size=64, patch_size=4, patch_stride=(4, 4),
                            depths=[1, 1], num_attention_heads=[2, 2], hidden_size=32,
                            patch_embeds_hidden_size=16, projection_dim=16, enable_fusion=False)
    text = ClapTextConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=37, projection_dim=16, max_position_embeddings=40)
    torch.manual_seed(5)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).eval()
    model.save_pretrained(str(tmp_path))
    fe = ClapFeatureExtractor(feature_size=16, sampling_rate=48000, max_length_s=1)
    fe.save_pretrained(str(tmp_path))
    _bert_tokenizer(tmp_path)

    stack = load_encoder(f"clap:{tmp_path}")
    assert stack.modalities == ["text", "audio"] and stack.dim == 16
    # a 1 s clip at 48 kHz is exactly one model window: must equal the model run directly
    t = np.arange(48000) / 48000
    wav = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    feats = fe([wav], sampling_rate=48000, return_tensors="pt", truncation="rand_trunc")
    with torch.no_grad():
        ref = _unit(_pooled(model.get_audio_features(input_features=feats["input_features"],
                                                     is_longer=feats["is_longer"])))
    assert np.allclose(stack.encode_audio([(wav, 48000)]), ref, atol=1e-5)
    # other rates / channels / lengths go through the same robust decoder
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([wav[:30000]] * 2, 1), 22050)
    res = stack.embed("audio", [path, (np.zeros(4800), 48000)])
    assert res.ok == [0] and "silent" in res.errors[0].reason
    assert stack.encode_text(["a dog barking"]).shape == (1, 16)


def test_clap_offline():
    with pytest.raises(MissingWeights) as err:
        load_encoder("clap:laion/clap-htsat-unfused")
    assert "\n" not in str(err.value) and "clap:<local dir" in str(err.value)
