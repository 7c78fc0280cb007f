"""Corpus readers, resumable batch embedding, FAISS index build/update, and
the read API (`open_index`) the search layer uses."""
from .manifest import FORMAT_VERSION, IndexManifest, read_manifest
from .metadata import Row
from .reader import IndexReader, open_index
from .records import Record

__all__ = ["FORMAT_VERSION", "IndexManifest", "IndexReader", "Record", "Row", "open_index",
           "read_manifest"]
