"""Cheap sanity checks for audio files found in packages."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..core.errors import BadInput

MAX_AUDIO_SECONDS = 60.0
SILENT_PEAK = 1e-4


def check_audio(path: Path) -> dict:
    """Duration/sample rate of a sound; BadInput if unreadable, silent or endless."""
    try:
        info = sf.info(str(path))
        if info.frames <= 0 or info.samplerate <= 0:
            raise BadInput(str(path), "audio has no samples")
        seconds = info.frames / info.samplerate
        if seconds > MAX_AUDIO_SECONDS:
            raise BadInput(str(path), f"audio is {seconds:.0f} s long (limit {MAX_AUDIO_SECONDS:.0f} s)")
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(str(path), f"unreadable audio ({type(exc).__name__}: {exc})") from None
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak < SILENT_PEAK:
        raise BadInput(str(path), f"audio is silent (peak {peak:.1e})")
    return {"seconds": round(seconds, 3), "sample_rate": info.samplerate,
            "channels": info.channels}
