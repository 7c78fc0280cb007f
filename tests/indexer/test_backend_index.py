"""An index built with one inference backend is searched with another; the
manifest records the backend beside the fingerprint; progress advances per
batch toward a counted total."""
from __future__ import annotations

import pytest

from indexer_helpers import make_images
from xmodal.alignment import load_encoder
from xmodal.alignment.backends import graph
from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build
from xmodal.indexer.progress import EmbedProgress
from xmodal.indexer.update import add


@pytest.mark.slow
@pytest.mark.skipif(not graph.installed("onnx"), reason="onnxruntime not installed")
def test_onnx_built_index_is_searched_with_torch(media_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    onnx = load_encoder("tiny", backend="onnx")
    out = tmp_path / "ix"
    build(BuildConfig([str(media_corpus)], str(out), model="tiny", shard_size=4), stack=onnx, progress=False)
    ix = open_index(out)
    assert ix.manifest.encoder_backend == {"image": "onnx", "audio": "onnx", "text": "onnx"}
    torch_stack = load_encoder("tiny", backend="torch")
    ix.check_encoder(torch_stack)  # same weights: no complaint
    q = torch_stack.encode_images([str(media_corpus / "img2.png")])
    _, labels = ix.search(q, 1, labels=ix.labels_where(modality="image", kind="item"))
    assert ix.rows(labels[0])[0].id == "img2.png"
    more = tmp_path / "more"
    make_images(more, 2, prefix="extra")
    add(out, [str(more)], stack=torch_stack)
    assert open_index(out).manifest.encoder_backend["image"] == "onnx,torch"


def test_progress_counts_a_total_and_moves_per_batch(media_corpus, tmp_path, tiny, monkeypatch):
    seen: list[tuple[int, int | None]] = []
    real_show = EmbedProgress._show

    def spy(self):
        real_show(self)
        seen.append((self.bar.n, self.bar.total))

    monkeypatch.setattr(EmbedProgress, "_show", spy)
    build(BuildConfig([str(media_corpus)], str(tmp_path / "ix"), model="tiny", shard_size=6, batch_size=2),
          stack=tiny, progress=True)
    counts = [n for n, _ in seen]
    assert counts == sorted(counts) and counts[-1] == 11  # 8 images, 2 sounds, 1 text
    assert len(set(counts)) > 3  # more steps than the 2 shards


def test_progress_total_comes_from_a_background_count():
    import threading

    release = threading.Event()

    def count():
        release.wait(10)
        return 40

    bar = EmbedProgress(True, count)
    bar.batch(20, 0.5)  # embedding goes on while the count runs
    assert (bar.bar.n, bar.bar.total) == (10, None)
    release.set()
    for _ in range(100):
        if bar.bar.total:
            break
        threading.Event().wait(0.05)
    bar.shard(20)
    assert (bar.bar.n, bar.bar.total) == (20, 40)
    bar.close()
