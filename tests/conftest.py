"""Shared test settings: fixed seeds, few threads, offline hubs."""
import os
import random

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Eager torch unless a test asks for a backend: `auto` would export and
# probe every random-weight stack a test builds. tests/alignment/test_backends.py
# covers onnx, openvino and auto explicitly.
os.environ.setdefault("XMODAL_BACKEND", "torch")


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:
        pass
