"""Text checks before tokenising: empty captions are errors, huge ones are
cut early (the tokenizer truncates to the tower's max tokens anyway; the
character cap only keeps tokenising a 100 MB string from taking minutes)."""
from __future__ import annotations

from typing import Any

from ..core.errors import BadInput

# ~30 characters per token is far more than any real text needs, so this
# cap never changes what the tower sees for max_tokens <= 512.
CHARS_PER_TOKEN_CAP = 30


def clean_text(item: Any, max_tokens: int, name: str | None = None) -> str:
    """Validate one caption/query; returns the (possibly shortened) string."""
    if isinstance(item, bytes):
        try:
            item = item.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(name or "<bytes>", "text is not valid UTF-8") from None
    if not isinstance(item, str):
        raise BadInput(name or f"<{type(item).__name__}>", "text must be a string")
    label = name or (item if len(item) <= 60 else item[:57] + "...")
    text = item.strip()
    if not text:
        raise BadInput(label or "<empty>", "empty text", "give a non-empty caption or query")
    return text[: max_tokens * CHARS_PER_TOKEN_CAP]


# Hard prompt templates: a template wraps a caption or a label ("a picture
# of {}"); an ensemble averages the text features over several templates.
# Training wraps captions in them (`train.prepare`), zero-shot
# classification wraps labels (`alignment.zeroshot`). Soft prompts are part
# of the trained model instead (`train.model.init_soft_prompt`).
TEMPLATE_SETS: dict[str, list[str]] = {
    "none": ["{}"],
    "picture": ["a picture of {}"],
    "sound": ["the sound of {}"],
    "ensemble": ["{}", "a picture of {}", "an illustration of {}", "a drawing of {}", "clip art of {}"],
    "sound-ensemble": ["{}", "the sound of {}", "a recording of {}"],
}


def templates_for(name_or_list: str | list[str]) -> list[str]:
    """A named template set, a single template string, or a list."""
    if isinstance(name_or_list, list):
        return name_or_list or ["{}"]
    if name_or_list in TEMPLATE_SETS:
        return TEMPLATE_SETS[name_or_list]
    return [name_or_list]


def article(phrase: str) -> str:
    """'a' or 'an' + phrase."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def apply_template(template: str, text: str) -> str:
    """'a picture of {}' + 'a cat' -> 'a picture of a cat'. str.replace, not
    format(), so braces inside user text are harmless."""
    return template.replace("{}", text, 1) if "{}" in template else f"{template} {text}".strip()


def escape_surrogates(s: str) -> str:
    """Valid Unicode for any str, unchanged when it already is. Bytes that
    `surrogateescape` smuggled in (undecodable file names) become `\\xNN`;
    other lone surrogates (JSON "\\udfff") become `\\udNNN`. Such strings
    cannot be stored in SQLite nor sent as UTF-8."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def escape_tree(value: Any) -> Any:
    """`escape_surrogates` over every string (keys too) of a JSON-like value."""
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {escape_tree(k): escape_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_tree(v) for v in value]
    return value
