"""The kernel every layer imports: small, dependency-light building blocks
that own one decision each.

  errors     XmodalError and its one-line user errors
  contracts  the Encoder protocol, EncodeResult / ItemError, l2_normalise
  jsonl      reading JSON Lines (line numbering, blank and bad lines)
  hashing    streaming file digests and the size+mtime digest memo
  output     CLI output: `fail` (one error line, exit 2)
  threads    `set_threads` over a registry of runtime thread setters

Modules here import only the standard library, numpy and click, never
another part of xmodal: the kernel sits below every layer."""
