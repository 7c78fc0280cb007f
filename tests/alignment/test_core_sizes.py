"""`parse_memory`: the one reader of memory budgets (index build, compact,
bench ann, bench scale, bench retrieval)."""
import pytest

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.sizes import parse_memory


@pytest.mark.parametrize("text, size", [
    ("2G", 2 * 1024**3), ("512M", 512 * 1024**2), ("1.5GB", int(1.5 * 1024**3)),
    ("64KiB", 64 * 1024), (" 3 t ", 3 * 1024**4), ("100", 100), (".5g", 1024**3 // 2), (4096, 4096),
])
def test_sizes(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["lots", "1.2.3G", "2X", "", "-1G", None, True])
def test_not_a_size_is_one_bad_input_line(text):
    with pytest.raises(BadInput, match=r"^memory budget '.*': not a size \(write e\.g\. 512M, 2G or 1\.5G\)$"):
        parse_memory(text)


def test_none_takes_the_callers_default():
    assert parse_memory(None, 2 * 1024**3) == 2 * 1024**3
    assert issubclass(BadInput, XmodalError)  # the indexer's `except XmodalError` still catches it
