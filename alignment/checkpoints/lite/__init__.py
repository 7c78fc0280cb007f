"""The shipped `lite` alignment: alignment.safetensors + alignment.json
(recipe, data hashes, held-out metrics). Rebuild: xmodal align train --recipe lite --install."""
