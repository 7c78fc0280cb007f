"""Captions from media file names ("HorseGallop.wav", "boy4-walking-b.gif").

Several Debian packages name their pictures and sounds after what they
show or sound like; these helpers turn such a name into words. Numbers,
frame letters ("-a", "-b") and separators are dropped, CamelCase is split.
"""
from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_FRAME = re.compile(r"(?:[-_ ](?:[a-f]|\d+))+$", re.I)


def words_of(stem: str) -> str:
    """'boy4-walking-b' -> 'boy walking'; 'HorseGallop' -> 'horse gallop'."""
    s = _FRAME.sub("", stem)
    s = _CAMEL.sub(" ", s)
    s = re.sub(r"[\d_\-.]+", " ", s)
    return re.sub(r"\s+", " ", s).strip().lower()
