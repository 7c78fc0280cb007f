"""Inference backends: parity with eager torch on the tiny stack, the
export cache (reuse, corruption, invalidation when heads change), the
fingerprint's independence of the backend, and `auto`'s choice/fallback."""
import json

import numpy as np
import pytest
import torch

from xmodal.alignment import load_encoder
from xmodal.alignment.backends import BackendError, auto, export, graph
from xmodal.alignment.heads import make_head

GRAPH = [b for b in ("onnx", "openvino") if graph.installed(b)]
pytestmark = pytest.mark.slow  # exports take a few seconds each


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export cache for the module (exports are reused across tests)."""
    path = tmp_path_factory.mktemp("xmodal-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("XMODAL_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def ref(cache):
    return load_encoder("tiny", backend="torch", device="cpu")


def batches(enc):
    ex = enc.example_items()
    return [ex, (ex * 3)[:5], ex[:1]]


def test_graph_backends_installed():
    """CI installs both runtimes (pyproject dependencies): parity is tested on each."""
    assert GRAPH == ["onnx", "openvino"]


@pytest.mark.parametrize("backend", GRAPH)
@pytest.mark.parametrize("modality", ["text", "image", "audio"])
def test_backend_matches_torch(cache, ref, backend, modality):
    stack = load_encoder("tiny", backend=backend, device="cpu")
    enc, want = stack.encoder(modality), ref.encoder(modality)
    assert stack.fingerprint == ref.fingerprint  # the fingerprint names the weights only
    for batch in batches(enc):
        got, exp = enc.encode(batch), want.encode(batch)
        assert got.shape == exp.shape and got.dtype == np.float32
        assert (got * exp).sum(1).min() >= 0.999
    assert enc.runner.resolved == backend


def _count_exports(monkeypatch):
    calls = []
    real = export._export_onnx

    def counting(encoder, path):
        calls.append(encoder.modality)
        return real(encoder, path)

    monkeypatch.setattr(export, "_export_onnx", counting)
    return calls


def test_export_is_cached_and_a_corrupt_one_rebuilt(cache, ref, monkeypatch):
    calls = _count_exports(monkeypatch)
    items = ref.encoder("image").example_items()
    load_encoder("tiny", backend="onnx").encoder("image").encode(items)
    load_encoder("tiny", backend="onnx").encoder("image").encode(items)
    assert len(calls) <= 1  # exported at most once (maybe already by an earlier test)
    folder = next(p.parent for p in (cache / "exports").glob("*/export.json")
                  if json.loads(p.read_text())["modality"] == "image")
    model = folder / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped: only the hash can tell
    model.write_bytes(bytes(data))
    calls.clear()
    got = load_encoder("tiny", backend="onnx").encoder("image").encode(items)
    assert calls == ["image"]
    assert (got * ref.encoder("image").encode(items)).sum(1).min() >= 0.999
    model.write_bytes(b"")  # truncated
    calls.clear()
    load_encoder("tiny", backend="onnx").encoder("image").encode(items)
    assert calls == ["image"]


def test_export_follows_a_changed_head(cache, ref, monkeypatch):
    stack = load_encoder("tiny", backend="onnx")
    enc = stack.encoder("text")
    items = enc.example_items()
    before = enc.encode(items)
    calls = _count_exports(monkeypatch)
    enc.head = make_head(enc.head.in_dim, enc.head.out_dim, "linear", seed=1234).eval()
    after = enc.encode(items)  # same fingerprint string, new head: a new export
    assert calls == ["text"]
    with torch.inference_mode():
        want = enc.head(enc.features(items))
    want = (want / want.norm(dim=1, keepdim=True)).numpy()
    assert (after * want).sum(1).min() >= 0.999
    assert (after * before).sum(1).max() < 0.99


def test_fresh_export_must_agree_with_torch(cache, ref, monkeypatch):
    monkeypatch.setattr(export, "check_parity", lambda encoder, run: 0.5)
    stack = load_encoder("tiny", backend="onnx")
    enc = stack.encoder("audio")
    enc.head = make_head(enc.head.in_dim, enc.head.out_dim, "linear", seed=99).eval()  # not yet checked
    with pytest.raises(BackendError, match="disagrees with torch"):
        enc.encode(enc.example_items())


def test_auto_picks_a_measured_backend_and_caches_it(cache, ref, monkeypatch):
    stack = load_encoder("tiny", backend="auto", device="cpu")
    enc = stack.encoder("text")
    got = enc.encode(enc.example_items())
    assert enc.runner.resolved in ["torch", *GRAPH]
    assert (got * ref.encoder("text").encode(enc.example_items())).sum(1).min() >= 0.999
    entry = next(v for k, v in json.loads((cache / auto.PROBE_FILE).read_text()).items() if "|text|" in k)
    assert set(entry["items_per_s"]) == {"torch", *GRAPH} and entry["backend"] == enc.runner.resolved
    monkeypatch.setattr(auto, "probe", lambda *a, **k: pytest.fail("probe not cached"))
    again = load_encoder("tiny", backend="auto").encoder("text")
    again.encode(again.example_items())
    assert again.runner.resolved == enc.runner.resolved


def test_auto_falls_back_to_torch_with_one_warning(cache, ref, monkeypatch, capsys):
    monkeypatch.setattr(auto, "installed", lambda b: False)
    monkeypatch.setattr(auto, "_warned", set())
    stack = load_encoder("tiny", backend="auto", device="cpu")
    for m in ("text", "image"):
        enc = stack.encoder(m)
        enc.encode(enc.example_items())
        assert enc.runner.resolved == "torch"
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "encoding with torch" in err


def test_auto_drops_a_backend_that_cannot_export(cache, ref, monkeypatch, capsys):
    def broken(encoder, path):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(export, "_export_onnx", broken)
    monkeypatch.setattr(auto, "_warned", set())
    monkeypatch.setattr(auto, "_read_cache", lambda: {})
    stack = load_encoder("tiny", backend="auto")
    enc = stack.encoder("image")
    enc.head = make_head(enc.head.in_dim, enc.head.out_dim, "linear", seed=7).eval()  # not exported yet
    enc.encode(enc.example_items())
    assert enc.runner.resolved == "torch"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "falls back to torch" in err[0] and "unsupported operator" in err[0]


def test_explicit_backend_that_is_missing_is_one_error(monkeypatch):
    monkeypatch.setattr(graph, "installed", lambda b: False)
    with pytest.raises(BackendError, match="onnxruntime is not installed"):
        load_encoder("tiny", backend="onnx")


@pytest.mark.parametrize("speeds, want", [
    ({"torch": 10.0, "onnx": 40.0, "openvino": 30.0}, "onnx"),
    ({"torch": 10.0, "onnx": 11.6, "openvino": 12.0}, "onnx"),  # a close call keeps the measured winner
    ({"torch": 10.0, "onnx": 20.0, "openvino": 30.0}, "openvino"),  # clearly faster here: it wins
    ({"torch": 50.0, "onnx": 20.0, "openvino": 30.0}, "torch"),
    ({"torch": 10.0, "openvino": 10.5}, "openvino"),  # onnx not installed: the next in the order
    ({"torch": 10.0}, "torch"),
])
def test_auto_keeps_the_benchmarked_winner_unless_clearly_beaten(speeds, want):
    assert auto.choose(speeds) == want
