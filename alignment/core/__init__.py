"""The kernel every layer imports: small, dependency-light building blocks
that own one decision each.

  errors     XmodalError and its one-line user errors
  contracts  the Encoder protocol, EncodeResult / ItemError, l2_normalise
  protocols  the seams: Embedder (an encoder stack), SearchIndex (an index reader)
  items      the item chain Record -> ShardRow -> Row -> Hit and its conversions
  atomic     atomic file writes (temp file, fsync, os.replace, fsync dir)
  jsonl      the JSON Lines reader and its bad-line policy
  hashing    streaming file digests and the size+mtime digest memo
  fingerprint  weight fingerprints (file hashes, tensors) and the cache dir
  output     CLI output: `fail`, the shared `--json` option, `emit`
  sizes      `parse_memory` ("2G" -> bytes)
  threads    `set_threads` over a registry of runtime thread setters

Modules here import only the standard library, numpy and click (torch
only lazily, to hash in-memory tensors), never another part of xmodal: the
kernel sits below every layer."""
