import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny matmuls: extra threads only oversubscribe the shared CPU. Put
    back afterwards so later modules keep the default."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
