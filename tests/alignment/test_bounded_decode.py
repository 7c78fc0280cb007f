"""Hostile shapes cannot make decoding allocate more than the model input
needs: extreme aspect ratios are cropped before the resize, pixel counts are
checked before decoding, audio is read in bounded blocks whatever its header
claims. The memory cap test runs the real decode + transform path in a
child process under `resource.setrlimit`."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from xmodal.alignment.config import load_config
from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.preprocess.audio import MAX_RATE, load_windows
from xmodal.alignment.preprocess.image import MAX_ASPECT, decode_image


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), (20, 200, 40) if mode == "RGB" else 1).save(buf, "PNG")
    return buf.getvalue()


def flac_claiming(seconds: float, rate: int = 655_350, channels: int = 8) -> bytes:
    """A small FLAC whose STREAMINFO claims `seconds` of audio: readers that
    trust the header allocate a whole window of `channels` x `rate` floats."""
    x = np.zeros((2000, channels), np.float32)
    x[::97] = 0.3
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="FLAC")
    data = bytearray(buf.getvalue())
    assert data[:4] == b"fLaC"
    # STREAMINFO bytes 18..26: rate(20) channels(3) bits(5) total samples(36)
    word = int.from_bytes(data[18:26], "big")
    word = (word & ~((1 << 36) - 1)) | int(seconds * rate)
    data[18:26] = word.to_bytes(8, "big")
    return bytes(data)


@pytest.mark.parametrize("w, h, want", [
    (1_000_000, 1, (MAX_ASPECT, 1)), (1, 1_000_000, (1, MAX_ASPECT)),
    (5000, 1, (MAX_ASPECT, 1)), (1000, 10, (10 * MAX_ASPECT, 10)),
    (30, 10, (30, 10)), (1, 1, (1, 1)),
])
def test_extreme_aspect_ratios_are_centre_cropped_for_a_model(w, h, want):
    assert decode_image(_png(w, h), draft_size=256).size == want
    assert decode_image(_png(w, h)).size == (w, h)  # not a model input: untouched


def test_aspect_crop_keeps_the_centre_and_the_exif_orientation(tmp_path):
    im = Image.new("RGB", (400, 40), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 200, 40))  # left half blue, right half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the left edge goes to the top
    path = tmp_path / "wide.jpg"
    im.save(path, "JPEG", exif=exif.tobytes(), quality=95)
    out = decode_image(path, draft_size=32)
    assert out.size == (40, 160)
    top, bottom = out.getpixel((20, 5)), out.getpixel((20, 154))
    assert top[2] > 200 and top[0] < 60  # blue: the centre 160 px straddle both halves
    assert bottom[0] > 200 and bottom[2] < 60


def test_audio_header_claiming_hours_reads_in_bounded_blocks():
    cfg = load_config("lite").audio  # 5 s windows: 3.3M frames x 8 channels if trusted
    data = flac_claiming(3000.0)
    tracemalloc.start()
    try:
        with pytest.raises(BadInput, match="corrupt or truncated"):
            load_windows(data, cfg, "liar.flac")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak >> 20} MB traced for a 2000-frame file"


def test_sample_rates_outside_the_range_are_refused():
    buf = io.BytesIO()
    sf.write(buf, np.full(1000, 0.1, np.float32), MAX_RATE + 1, format="WAV")
    with pytest.raises(BadInput, match="sample rate"):
        load_windows(buf.getvalue(), load_config("tiny").audio, "fast.wav")
    with pytest.raises(BadInput, match="sample rate"):
        load_windows((np.ones(10, np.float32), 0), load_config("tiny").audio)


CHILD = textwrap.dedent("""
    import io, json, math, resource, sys
    import numpy as np, soundfile as sf, torch
    from PIL import Image
    from xmodal.alignment.config import load_config
    from xmodal.alignment.preprocess.audio import load_windows
    from xmodal.alignment.preprocess.image import decode_image, make_transform
    sys.path.insert(0, sys.argv[2])
    from test_bounded_decode import _png, flac_claiming
    torch.set_num_threads(1)
    cfg = load_config("lite")
    ic = cfg.image
    transform = make_transform(ic.image_size, ic.crop_pct, ic.interpolation, ic.mean, ic.std)
    size = math.ceil(ic.image_size / ic.crop_pct)

    def wav(rate, frames, channels=1):
        buf = io.BytesIO()
        sf.write(buf, np.full((frames, channels), 0.2, np.float32), rate, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    images = {"1000000x1": _png(1_000_000, 1), "1x1000000": _png(1, 1_000_000),
              "5000x1": _png(5000, 1), "1x5000": _png(1, 5000), "1x1": _png(1, 1),
              "10000x10000 1-bit": _png(10_000, 10_000, "1")}
    sounds = {"flac claiming 3000 s, 8 ch, 655 kHz": flac_claiming(3000.0), "1 Hz, 3000 s": wav(1, 3000),
              "1024 channels": wav(8000, 400, 1024), "4 MHz": wav(4_000_000, 4000)}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    cap = base + int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    out = {}
    for name, data in [*images.items(), *sounds.items()]:
        try:
            if name in images:
                x = transform(decode_image(data, name, draft_size=size))
            else:
                x = load_windows(data, cfg.audio, name)
            out[name] = ["ok", list(x.shape)]
        except MemoryError:
            out[name] = ["MemoryError", None]
        except Exception as exc:
            out[name] = [type(exc).__name__, str(exc)]
    out["rss_before_mb"] = round(rss_before)
    out["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["cap_headroom_mb"] = int(sys.argv[1])
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_hostile_shapes_are_handled_under_a_small_memory_cap():
    """512 MB of address space above the imports: before the aspect cap the
    1,000,000 x 1 PNG alone needed ~3 GB at lite's 256 px resize."""
    import os

    here = os.path.dirname(__file__)
    env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, "512", here], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(got))
    for name in ("1000000x1", "1x1000000", "5000x1", "1x5000", "1x1"):
        assert got[name] == ["ok", [3, 224, 224]], (name, got[name])
    assert got["10000x10000 1-bit"][0] == "BadInput" and "too large" in got["10000x10000 1-bit"][1]
    assert got["flac claiming 3000 s, 8 ch, 655 kHz"][0] == "BadInput"
    assert got["1 Hz, 3000 s"][0] == "ok" and got["1024 channels"][0] == "ok"
    assert got["4 MHz"][0] == "BadInput" and "sample rate" in got["4 MHz"][1]
