"""Imported by the campaign's fork server before it forks any child: the
tiny stack and the indexer are loaded once, and one item of each modality
is encoded (librosa's first resample alone takes seconds), so children
inherit all of it."""
import math

import numpy as np

import campaign_jobs
import xmodal.indexer.build  # noqa: F401
import xmodal.indexer.update  # noqa: F401

_stack = campaign_jobs.stack()
_tone = (0.3 * np.sin(2 * math.pi * 220 * np.arange(8000) / 8000)).astype(np.float32)
_stack.encoders["audio"].encode([_stack.encoders["audio"].prepare((_tone, 8000))])
_stack.encoders["image"].encode([_stack.encoders["image"].prepare(np.zeros((40, 48, 3), np.uint8))])
_stack.encoders["text"].encode([_stack.encoders["text"].prepare("warm up")])
