"""Corpus readers, resumable batch embedding, FAISS index build/update, and
the read API (`open_index`) the search layer uses.

Modules, one job each:
  readers/    folder trees (sidecar .txt/.json), JSONL/CSV/Parquet manifests,
              WebDataset .tar shards -> Record (alignment/core/items) / Skipped;
              content sniffing
  embed       records -> vectors (pure) -> resumable shards
  shards      shard files (.npy + .json descriptor), mmap'd vector lookup
  factory     auto choice Flat / HNSW / IVF-Flat / OPQ+IVF-PQ; build + train
  tune        nprobe / efSearch / rerank tuned on held-out queries vs exact
  searching   the one search routine (params, id filters, exact re-ranking)
  metadata    SQLite rows by label, generation-stamped for snapshot reads
  manifest    IndexManifest JSON, atomic publish, checksums
  publish     single-writer lock, generation files, manifest commit
  indexing    shards -> index + rows + manifest (one generation)
  build       corpus -> shards -> index, with progress and build-report.json
  update      add / upsert / remove / compact as new generations
  reader      open_index: the read-only API
  inspect     `info` summary and checksum verification
  cli         `xmodal index build|add|remove|info|compact`
"""
from xmodal.alignment.core.items import Record, Row
from xmodal.alignment.core.threads import register_thread_setter

from .manifest import FORMAT_VERSION, IndexManifest, read_manifest
from .reader import IndexReader, open_index
from .readers.tar import SEP as MEMBER_SEP

__all__ = ["FORMAT_VERSION", "MEMBER_SEP", "IndexManifest", "IndexReader", "Record", "Row",
           "open_index", "read_manifest"]


def _faiss_threads(n: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n)


# FAISS is the indexer's runtime: `xmodal --threads N` reaches it through the
# kernel's registry (alignment may not import FAISS, not even lazily).
register_thread_setter("faiss", _faiss_threads)
