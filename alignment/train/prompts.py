"""Hard prompt templates / ensembles and CoOp-style soft prompts.

A hard template wraps every caption ("a picture of {}"); an ensemble
averages the frozen text features over several templates. A soft prompt is
`n_ctx` free vectors in the text tower's input embedding space, inserted
after [CLS]; it can start from the embeddings of a phrase ("a picture of")
or from small random vectors.
"""
from __future__ import annotations

import torch

TEMPLATE_SETS: dict[str, list[str]] = {
    "none": ["{}"],
    "picture": ["a picture of {}"],
    "sound": ["the sound of {}"],
    "ensemble": ["{}", "a picture of {}", "an illustration of {}", "a drawing of {}", "clip art of {}"],
}


def templates_for(name_or_list: str | list[str]) -> list[str]:
    """A named template set, a single template string, or a list."""
    if isinstance(name_or_list, list):
        return name_or_list or ["{}"]
    if name_or_list in TEMPLATE_SETS:
        return TEMPLATE_SETS[name_or_list]
    return [name_or_list]


def init_soft_prompt(tower, n_ctx: int, init: str | None = "a picture of", seed: int = 0) -> torch.Tensor:
    """(n_ctx, hidden) initial context vectors.

    With `init` text: its word embeddings (no [CLS]/[SEP]), cut or padded
    with small random vectors to n_ctx. Without: N(0, 0.02^2), as CoOp."""
    hidden = int(tower.out_dim)
    gen = torch.Generator().manual_seed(seed)
    out = torch.randn(n_ctx, hidden, generator=gen) * 0.02
    if init:
        ids = tower.tokenizer(init, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        with torch.no_grad():
            emb = tower.bert.embeddings.word_embeddings(ids[:n_ctx]).float()
        out[: emb.shape[0]] = emb
    return out


def text_prompt_fn(tower):
    """Tower features with the model's soft prompt spliced in. The tower
    stays frozen; gradients reach only the prompt. Rows are trimmed to the
    longest caption of the batch so padding costs nothing."""

    def run(inputs: dict[str, torch.Tensor], model) -> torch.Tensor:
        mask = inputs["attention_mask"]
        length = int(mask.sum(1).max())
        return tower.features(inputs["input_ids"][:, :length], mask[:, :length], prompt=model.prompt)

    return run
