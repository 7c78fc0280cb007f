"""Waveform augmentation for the small real audio corpora.

Gain, additive noise at a random SNR, circular time shift and a pitch shift.
The pitch shift resamples (so pitch and tempo move together, like a tape
speed change): a phase vocoder would be ~20x slower and the audio tower
only needs robustness, not a tempo-preserving effect.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    gain_db: float = 6.0           # uniform in [-gain_db, +gain_db]
    snr_db: tuple[float, float] = (10.0, 40.0)
    noise_p: float = 0.7
    shift: float = 0.5             # max circular shift, fraction of the clip
    semitones: float = 2.0         # uniform in [-semitones, +semitones]
    pitch_p: float = 0.7


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return x * np.float32(10 ** (db / 20))


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(x.astype(np.float64) ** 2)) or 1e-12
    noise = rng.normal(size=x.shape).astype(np.float32)
    return x + noise * np.float32(np.sqrt(power / 10 ** (snr_db / 10)))


def time_shift(x: np.ndarray, frac: float) -> np.ndarray:
    return np.roll(x, int(round(frac * len(x))))


def pitch_shift(x: np.ndarray, semitones: float, rate: int) -> np.ndarray:
    """Shift pitch by resampling; the output has the input's length (the
    clip is cropped or repeated) so windows keep their size."""
    import librosa

    factor = 2 ** (semitones / 12)
    y = librosa.resample(x, orig_sr=rate * factor, target_sr=rate, res_type="soxr_qq") if factor != 1 else x
    y = np.asarray(y, dtype=np.float32)
    if len(y) >= len(x):
        return y[: len(x)]
    return np.tile(y, int(np.ceil(len(x) / max(len(y), 1))))[: len(x)]


def augment(x: np.ndarray, rate: int, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """One random augmentation of a mono float32 waveform."""
    y = np.asarray(x, dtype=np.float32)
    if cfg.pitch_p and rng.random() < cfg.pitch_p:
        y = pitch_shift(y, rng.uniform(-cfg.semitones, cfg.semitones), rate)
    if cfg.shift:
        y = time_shift(y, rng.uniform(-cfg.shift, cfg.shift))
    y = gain(y, rng.uniform(-cfg.gain_db, cfg.gain_db))
    if cfg.noise_p and rng.random() < cfg.noise_p:
        y = add_noise(y, rng.uniform(*cfg.snr_db), rng)
    return np.clip(y, -1.0, 1.0)
