"""Preprocessing that survives real files: synthetic bad/odd inputs with
known right answers."""
import io
import math
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from xmodal.alignment.config import load_config
from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.preprocess.audio import load_windows, log_mel, prepare_audio
from xmodal.alignment.preprocess.image import decode_image
from xmodal.alignment.preprocess.text import apply_template, clean_text


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


# ---------------------------------------------------------------- images

def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    im.save(path, "JPEG", exif=exif.tobytes(), quality=95)
    out = decode_image(path)
    assert out.size == (20, 40)
    r, g, b = out.getpixel((10, 2))  # left edge went to the top
    assert b > 200 and r < 60


def test_rgba_transparent_becomes_white():
    im = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    out = decode_image(_png(im))
    assert out.mode == "RGB"
    assert out.getpixel((5, 5)) == (255, 255, 255)
    assert out.getpixel((0, 0)) == (255, 0, 0)


def test_palette_with_transparency_and_la():
    pal = Image.new("P", (6, 6), 0)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putpixel((1, 1), 1)
    out = decode_image(_png(pal, transparency=0))
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((1, 1)) == (0, 255, 0)
    la = Image.new("LA", (4, 4), (0, 0))
    assert decode_image(_png(la)).getpixel((2, 2)) == (255, 255, 255)


def test_cmyk_and_16_bit():
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    buf = io.BytesIO()
    cmyk.save(buf, "JPEG", quality=100)
    r, g, b = decode_image(buf.getvalue()).getpixel((1, 1))
    assert r > 200 and g < 60 and b < 60
    arr16 = np.full((4, 4), 65535, np.uint16)
    arr16[0, 0] = 0
    im16 = Image.fromarray(arr16)
    out = decode_image(_png(im16))
    assert out.getpixel((2, 2)) == (255, 255, 255) and out.getpixel((0, 0)) == (0, 0, 0)


def test_truncated_zero_byte_and_garbage_files(tmp_path):
    good = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(good, "JPEG")
    data = good.getvalue()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"not an image at all" * 10)
    for name, what in [("trunc.jpg", "truncated"), ("empty.png", "empty"), ("junk.png", "not a readable")]:
        with pytest.raises(BadInput) as err:
            decode_image(tmp_path / name)
        assert name in str(err.value) and what in str(err.value)
    with pytest.raises(BadInput, match="not found"):
        decode_image(tmp_path / "missing.png")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    between = _png(Image.new("L", (120, 100)))  # 12k: over our limit, under PIL's 2x
    huge = _png(Image.new("L", (300, 300)))  # 90k: PIL itself refuses
    for data in (between, huge):
        with pytest.raises(BadInput, match="too large"):
            decode_image(data, name="bomb.png")


def test_numpy_and_pil_inputs():
    arr = np.zeros((5, 7, 3), np.uint8)
    assert decode_image(arr).size == (7, 5)
    assert decode_image(np.ones((5, 7), np.float32)).getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(BadInput):
        decode_image(np.zeros((5, 7, 2)))
    with pytest.raises(BadInput):
        decode_image(12345)


# ---------------------------------------------------------------- audio

@pytest.fixture(scope="module")
def acfg():
    return load_config("tiny").audio  # 16 kHz, 1 s windows, up to 4 windows


def _tone(seconds, rate, freq=440.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = (0.5 * np.sin(2 * math.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def test_short_clip_is_repeated_to_one_window(acfg):
    x = np.arange(1, 4001, dtype=np.float32) / 4000.0  # 0.25 s ramp at 16 kHz
    w = load_windows((x, 16000), acfg)
    assert w.shape == (1, acfg.window_samples)
    assert np.allclose(w[0, :4000], x) and np.allclose(w[0, 4000:8000], x)


def test_long_clip_gives_evenly_spaced_windows(acfg):
    x = np.arange(16000 * 10, dtype=np.float32) / (16000 * 10)  # 10 s ramp
    w = load_windows((x, 16000), acfg)
    assert w.shape == (acfg.max_windows, acfg.window_samples)
    assert w[0, 0] == x[0] and w[-1, -1] == x[-1]  # first and last windows reach the ends


def test_any_rate_and_channels_from_files(tmp_path, acfg):
    stereo = _tone(2.0, 44100, channels=2)
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo, 44100)
    w = load_windows(path, acfg)
    assert w.shape == (2, acfg.window_samples)
    # resampled 440 Hz tone keeps its pitch: dominant FFT bin at 440 Hz
    spec = np.abs(np.fft.rfft(w[0]))
    assert abs(np.argmax(spec) * 16000 / acfg.window_samples - 440) < 5
    buf = io.BytesIO()
    sf.write(buf, _tone(0.5, 8000), 8000, format="WAV")
    mel = prepare_audio(buf.getvalue(), acfg)
    frames = 1 + acfg.window_samples // acfg.hop_length
    assert mel.shape == (1, acfg.n_mels, frames) and mel.dtype == np.float32


def test_bad_audio_is_reported(tmp_path, acfg):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....garbage" * 20)
    for path, what in [(silent, "silent"), (empty, "empty"), (junk, "not a readable")]:
        with pytest.raises(BadInput) as err:
            load_windows(path, acfg)
        assert path.name in str(err.value) and what in str(err.value)
    nan = _tone(1.0, 16000)
    nan[100] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        load_windows((nan, 16000), acfg, name="nan-clip")
    with pytest.raises(BadInput, match="too long"):
        load_windows((_tone(3.0, 16000), 16000), replace(acfg, max_seconds=2.0))
    with pytest.raises(BadInput, match="too short"):
        load_windows((_tone(0.001, 16000), 16000), acfg)
    with pytest.raises(BadInput, match="sample rate"):
        load_windows(np.zeros(100), acfg)


def test_log_mel_is_level_invariant(acfg):
    x = _tone(1.0, 16000)
    a = log_mel(load_windows((x, 16000), acfg), acfg)
    b = log_mel(load_windows((x * 0.01, 16000), acfg), acfg)
    assert np.allclose(a, b, atol=1e-4)
    assert a.min() >= -1.0 - 1e-6 and a.max() <= 1.0 + 1e-6


# ---------------------------------------------------------------- text

def test_text_checks():
    with pytest.raises(BadInput, match="empty text"):
        clean_text("   ", max_tokens=64)
    with pytest.raises(BadInput):
        clean_text(None, max_tokens=64)
    assert len(clean_text("x" * 10_000_000, max_tokens=64)) < 10_000
    assert apply_template("a picture of {}", "a {weird} cat") == "a picture of a {weird} cat"
    assert apply_template("{}", "cat") == "cat"
