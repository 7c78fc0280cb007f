"""`set_threads` reaches every registered runtime, including ones whose
owner is imported after the count was set (FAISS registers from indexer)."""
import pytest

from xmodal.alignment.core import threads


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(threads, "_setters", {})
    monkeypatch.setattr(threads, "_requested", None)
    return threads


def test_registered_setters_get_the_count_now_and_later(registry):
    seen = []
    registry.register_thread_setter("torch", lambda n: seen.append(("torch", n)))
    registry.set_threads(3)
    registry.register_thread_setter("faiss", lambda n: seen.append(("faiss", n)))  # imported later
    assert seen == [("torch", 3), ("faiss", 3)] and registry.requested_threads() == 3
    registry.set_threads(1)
    assert seen[2:] == [("torch", 1), ("faiss", 1)]


def test_nothing_is_applied_until_asked(registry):
    seen = []
    registry.register_thread_setter("torch", seen.append)
    assert seen == [] and registry.requested_threads() is None


def test_the_real_runtimes_are_registered_by_their_owners():
    import importlib

    importlib.import_module("xmodal.alignment")  # registers torch
    importlib.import_module("xmodal.indexer")  # registers faiss
    assert {"torch", "faiss"} <= set(threads._setters)
