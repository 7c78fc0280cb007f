"""Uploads through the HTTP API into the real `tiny` encoder: good files
find themselves, corrupt / truncated / oversized ones get a 4xx line."""
import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from xmodal.search import Engine
from xmodal.search.app import create_app


@pytest.fixture(scope="module")
def client(tiny_index, tiny_stack):
    path, _root = tiny_index
    with TestClient(create_app(Engine.open(str(path), encoder=tiny_stack)), base_url="http://localhost") as c:
        yield c


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_uploads_find_themselves(client, tiny_index):
    _path, root = tiny_index
    r = client.post("/search", json={"audio_b64": b64((root / "snd/high.wav").read_bytes()),
                                     "target": "audio", "k": 2})
    assert r.status_code == 200 and r.json()["hits"][0]["id"] == "snd/high.wav"
    assert r.json()["query"] == "audio"
    data = "data:image/png;base64," + b64((root / "img/green.png").read_bytes())
    r = client.post("/search", json={"image_b64": data, "target": "image", "k": 1})
    assert r.status_code == 200 and r.json()["hits"][0]["id"] == "img/green.png"


def test_bad_uploads_are_4xx(client, tiny_index):
    _path, root = tiny_index
    png = (root / "img/red.png").read_bytes()
    wav = (root / "snd/low.wav").read_bytes()
    big = io.BytesIO()
    Image.new("1", (30000, 30000)).save(big, "PNG")  # tiny file, 900 Mpx when decoded
    silent = io.BytesIO()
    import soundfile as sf

    sf.write(silent, np.zeros(16000, np.float32), 16000, format="WAV")
    cases = [
        {"image_b64": b64(png[: len(png) // 2])},     # truncated image
        {"image_b64": b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)},
        {"image_b64": b64(big.getvalue())},           # decompression bomb
        {"audio_b64": b64(wav[:30])},                 # truncated audio
        {"audio_b64": b64(b"ID3" + b"\0" * 500)},
        {"image_b64": b64(wav)},                      # wrong modality
    ]
    for body in cases:
        r = client.post("/search", json=body)
        assert 400 <= r.status_code < 500, (list(body), r.status_code, r.text)
        assert r.json()["detail"].startswith("query ")
    r = client.post("/search", json={"audio_b64": b64(silent.getvalue()), "target": "audio"})
    assert r.status_code in (200, 400)  # silence may be refused, never a crash
