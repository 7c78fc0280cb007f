"""`clap:<hub id | local dir>`: transformers ClapModel as a text+audio stack.

Audio goes through our robust decoder (any rate/channels/length) at the
feature extractor's rate, cut into windows of exactly the model's input
length (so the extractor never crops at random), and the window features
of a clip are averaged, as in the lite audio encoder."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..config import AudioConfig
from ..core.errors import UnknownModel
from ..core.fingerprint import combine
from ..heads import Head
from ..preprocess.audio import load_windows
from ..preprocess.source import describe
from ..stack import EncoderStack
from ..towers.clip import ClapAudio, HFText
from .encoders import FrozenPooled, TextEncoder, TowerEncoder, example_audio, pool_matrix
from .hfclip import load_hf, probe_text_dim
from .hub import weights_digest

USAGE = "clap:<hub id or local dir>, e.g. clap:laion/clap-htsat-unfused"


class ClapAudioEncoder(TowerEncoder):
    """Decode -> windows -> ClapFeatureExtractor (in prepare, i.e. in the
    decoding threads) -> ClapModel audio features averaged per clip."""

    modality = "audio"
    decode_in = "processes"

    def __init__(self, tower: ClapAudio, head: Head, extractor, cfg: AudioConfig, fusion: bool):
        super().__init__(tower, head)
        self.extractor = extractor
        self.cfg = cfg
        # the input layout must match the model: fused models take 4 stacked
        # mel views, unfused ones one; windows are exactly max length, so
        # 'rand_trunc' never actually crops (deterministic)
        self.truncation = "fusion" if fusion else "rand_trunc"

    def prepare(self, item: Any) -> dict[str, torch.Tensor]:
        windows = load_windows(item, self.cfg, describe(item))
        feats = self.extractor(list(windows), sampling_rate=self.cfg.sample_rate, return_tensors="pt",
                               truncation=self.truncation)
        return {k: v for k, v in feats.items() if k in ("input_features", "is_longer")}

    def graph_inputs(self, batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        counts = [int(b["input_features"].shape[0]) for b in batch]
        merged = {k: torch.cat([b[k] for b in batch]) for k in batch[0]}
        return {**merged, "pool": pool_matrix(counts)}

    def frozen(self) -> nn.Module:
        return FrozenPooled(self.tower, self.head)

    def example_items(self) -> list[Any]:
        return example_audio(self, self.cfg.sample_rate, self.cfg.window_seconds)


def clap_audio_config(extractor) -> AudioConfig:
    """Window = the extractor's max input length, at its sampling rate."""
    rate = int(extractor.sampling_rate)
    return replace(AudioConfig(), sample_rate=rate, window_seconds=extractor.nb_max_samples / rate,
                   max_windows=6)


def build_clap(argument: str | None) -> EncoderStack:
    """Load a CLAP model from the hub or a local directory."""
    from transformers import AutoFeatureExtractor, AutoTokenizer, ClapModel

    def load(target: str, local_only: bool):
        model = ClapModel.from_pretrained(target, local_files_only=local_only)
        if model.config.model_type != "clap":
            raise UnknownModel(f"clap: {target} is a '{model.config.model_type}' model, not CLAP")
        tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=local_only)
        extractor = AutoFeatureExtractor.from_pretrained(target, local_files_only=local_only)
        return model.eval(), tokenizer, extractor

    target, local, (model, tokenizer, extractor) = load_hf("clap", argument, USAGE, load)
    max_tokens = min(512, int(getattr(model.config.text_config, "max_position_embeddings", 514)) - 2)
    text_tower = HFText(model, tokenizer, max_tokens, pad_to_max=False)
    dim = probe_text_dim(text_tower)
    audio_tower = ClapAudio(model)
    text_tower.out_dim = audio_tower.out_dim = dim  # what an alignment head would take
    encoders = {
        "text": TextEncoder(text_tower, Head(dim, dim, "identity")),
        "audio": ClapAudioEncoder(audio_tower, Head(dim, dim, "identity"), extractor,
                                  clap_audio_config(extractor),
                                  bool(getattr(model.config.audio_config, "enable_fusion", False))),
    }
    return EncoderStack(
        spec=f"clap:{argument}", encoders=encoders,
        fingerprint=combine([f"clap|{weights_digest(target, local, model)}"]), aligned=True,
        info={"target": target},
    )
