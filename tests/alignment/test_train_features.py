"""Feature cache round trip and the audio augmentations."""
import numpy as np
import pytest
import torch

from xmodal.alignment.train.augment import AugmentConfig, add_noise, augment, gain, pitch_shift, time_shift
from xmodal.alignment.train.features import FeatureCache, content_keys, key_of


def test_feature_cache_persists_rows_by_key(tmp_path):
    cache = FeatureCache("image", "fp1", tmp_path)
    keys = [key_of("fp1", f"file|{i}") for i in range(5)]
    feats = np.arange(15, dtype=np.float32).reshape(5, 3)
    cache.put(keys[:3], feats[:3])
    cache.put(keys[3:], feats[3:])
    again = FeatureCache("image", "fp1", tmp_path)  # a new process: read from disk
    assert all(k in again for k in keys)
    np.testing.assert_array_equal(again.get([keys[4], keys[0]]), feats[[4, 0]])
    assert key_of("fp2", "file|0") not in again  # another tower never hits
    assert not FeatureCache("image", "fp2", tmp_path)._index


def test_two_writers_of_one_cache_keep_each_others_rows(tmp_path):
    # two processes open the same (empty) cache, then both append: each
    # must land in its own shard, not both in "shard-0"
    a, b = FeatureCache("image", "fp", tmp_path), FeatureCache("image", "fp", tmp_path)
    ka = [key_of("fp", f"file|a{i}") for i in range(3)]
    kb = [key_of("fp", f"file|b{i}") for i in range(2)]
    fa = np.arange(9, dtype=np.float32).reshape(3, 3)
    fb = -np.arange(6, dtype=np.float32).reshape(2, 3)
    a.put(ka, fa)
    b.put(kb, fb)
    a.put(ka[:1], fa[:1] + 0)  # a second shard of the first writer
    merged = FeatureCache("image", "fp", tmp_path)
    np.testing.assert_array_equal(merged.get(ka), fa)
    np.testing.assert_array_equal(merged.get(kb), fb)
    assert len(list(merged.dir.glob("shard-*.safetensors"))) == 3


def test_two_writer_processes_at_once(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(tmp_path, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    merged = FeatureCache("image", "fp", tmp_path)
    for w in range(2):
        keys = [key_of("fp", f"file|{w}-{i}") for i in range(20)]
        np.testing.assert_array_equal(merged.get(keys)[:, 0], np.full(20, w, np.float32))


def _fill(root, writer):
    cache = FeatureCache("image", "fp", root)
    for i in range(20):
        cache.put([key_of("fp", f"file|{writer}-{i}")], np.full((1, 4), writer, np.float32))


def test_old_plain_shard_names_still_load(tmp_path):
    import json

    from safetensors.numpy import save_file

    folder = tmp_path / "text" / "fp"
    folder.mkdir(parents=True)
    save_file({"features": np.ones((1, 2), np.float32)}, str(folder / "shard-0.safetensors"))
    (folder / "shard-0.json").write_text(json.dumps(["k0"]))
    cache = FeatureCache("text", "fp", tmp_path)
    np.testing.assert_array_equal(cache.get(["k0"]), np.ones((1, 2), np.float32))
    cache.put(["k1"], np.zeros((1, 2), np.float32))  # numbered after the old shard
    assert (folder / "shard-0.json").read_text() == '["k0"]'


def test_content_keys_hash_file_bytes_not_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    c.write_bytes(b"other")
    ka, kb, kc, km = content_keys("image", [str(a), str(b), str(c), str(tmp_path / "missing.png")])
    assert ka == kb != kc and km.startswith("missing|")


def test_digest_memo_reads_a_file_once_until_it_changes(tmp_path, monkeypatch):
    import hashlib
    import os

    from xmodal.alignment.core import hashing

    f = tmp_path / "a.png"
    f.write_bytes(b"first")
    reads = []
    real = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", lambda p, algo="sha256": reads.append(p) or real(p, algo))
    memo = hashing.DigestMemo(tmp_path / "memo.json", "sha1")
    assert memo.digest(f) == hashlib.sha1(b"first").hexdigest()
    memo.save()
    again = hashing.DigestMemo(tmp_path / "memo.json", "sha1")  # a later run
    assert again.digest(f) == hashlib.sha1(b"first").hexdigest() and len(reads) == 1
    f.write_bytes(b"second!")
    os.utime(f, ns=(1, 1))  # a new size and mtime: must be read again
    assert again.digest(f) == hashlib.sha1(b"second!").hexdigest() and len(reads) == 2
    again.save()  # the stale entry for the old bytes is dropped
    assert list(hashing.DigestMemo(tmp_path / "memo.json", "sha1").known.values()) == [
        hashlib.sha1(b"second!").hexdigest()]


def _peak_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[spec.argmax()]


def test_pitch_shift_moves_the_frequency_and_keeps_length():
    rate = 16000
    t = np.arange(rate) / rate
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = pitch_shift(x, 12, rate)
    assert len(y) == len(x)
    assert _peak_hz(y, rate) == pytest.approx(880, rel=0.02)
    assert _peak_hz(pitch_shift(x, -12, rate), rate) == pytest.approx(220, rel=0.02)


def test_gain_noise_and_shift():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 200, 16000)).astype(np.float32)
    assert np.abs(gain(x, 6.0)).max() == pytest.approx(np.abs(x).max() * 10 ** 0.3, rel=1e-5)
    noisy = add_noise(x, 20.0, rng)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((noisy - x) ** 2))
    assert snr == pytest.approx(20.0, abs=0.5)
    np.testing.assert_array_equal(time_shift(x, 0.25), np.roll(x, 4000))


def test_augment_is_seeded_bounded_and_changes_the_clip():
    x = np.sin(np.linspace(0, 300, 8000)).astype(np.float32) * 0.5
    a = augment(x, 16000, np.random.default_rng(1))
    b = augment(x, 16000, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and np.abs(a).max() <= 1.0 and not np.allclose(a, x)
    same = augment(x, 16000, np.random.default_rng(1), AugmentConfig(gain_db=0, noise_p=0, shift=0, pitch_p=0))
    np.testing.assert_allclose(same, x)


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["text", "image", "audio"])
def test_tower_features_on_onnx_match_eager_tower(tmp_path, monkeypatch, modality):
    """Training's frozen features run on the graph backend (an identity-head
    copy of the encoder), unnormalised, and equal the eager tower's."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path))
    from xmodal.alignment.aligned import tower_fingerprint
    from xmodal.alignment.train.features import tower_features
    from xmodal.alignment.train.prepare import base_stack

    stack = base_stack("tiny")
    enc = stack.encoder(modality)
    batch = [enc.prepare(x) for x in enc.example_items()] if modality == "text" else enc.example_items()
    view = tower_features(enc, tower_fingerprint(stack, modality), "onnx")
    got = view.encode(batch)
    with torch.no_grad():
        want = enc.features(batch).float().numpy()
    assert got.shape == want.shape == (len(batch), enc.tower.out_dim)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    assert view.view.runner.resolved == "onnx" and enc.runner is None  # the encoder itself is untouched
    assert tower_features(enc, tower_fingerprint(stack, modality), "onnx") is view  # set up once


def test_cached_features_compute_only_misses_and_report_bad_items(tmp_path, monkeypatch):
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path))
    from xmodal.alignment.aligned import tower_fingerprint
    from xmodal.alignment.train.features import cached_features
    from xmodal.alignment.train.prepare import base_stack

    stack = base_stack("tiny")
    enc, fp = stack.encoder("text"), tower_fingerprint(stack, "text")
    cache = FeatureCache("text", fp, tmp_path)
    texts = ["a red bird", "a much longer caption about a small blue car", "dog"]
    feats, ok, skipped = cached_features(enc, fp, texts, content_keys("text", texts), cache, 2, backend="torch")
    assert ok == [0, 1, 2] and not skipped and feats.shape == (3, enc.tower.out_dim)
    with torch.no_grad():
        np.testing.assert_allclose(feats, enc.features([enc.prepare(t) for t in texts]).numpy(), atol=1e-5)
    calls = []
    monkeypatch.setattr("xmodal.alignment.train.features.run_batches", lambda *a, **k: calls.append(a))
    again, ok2, _ = cached_features(enc, fp, texts[::-1], content_keys("text", texts[::-1]), cache, 2)
    assert not calls and ok2 == [0, 1, 2]
    np.testing.assert_array_equal(again, feats[::-1])
