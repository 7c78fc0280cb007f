"""Training corpora built from Debian packages and local synthesis.

    from xmodal.alignment.data import load_corpus, corpus_dir, fetch
    fetch("openclipart")                       # idempotent, resumable
    pairs = load_corpus("openclipart", split="train")

Corpora live under ``${XMODAL_CACHE:-~/.cache/xmodal}/data/<name>/``.
"""
from .cache import cache_root, corpus_dir
from .corpora import CORPORA, describe, fetch, is_fetched, load_corpus, summary
from .pairs import Pair, read_pairs, write_pairs
from .splits import SPLITS, SplitConfig, assign, split_of_group

__all__ = ["CORPORA", "Pair", "SPLITS", "SplitConfig", "assign", "cache_root", "corpus_dir",
           "describe", "fetch", "is_fetched", "load_corpus", "read_pairs", "split_of_group",
           "summary", "write_pairs"]
