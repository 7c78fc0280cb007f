"""Device and backend option parsing; CUDA presence is mocked (tests run on the CPU)."""
import pytest

from xmodal.alignment import XmodalError, load_encoder
from xmodal.alignment.backends import devices, run_options
from xmodal.alignment.backends.torch_runner import TorchRunner


@pytest.mark.parametrize("gpus, name, want", [
    (0, "auto", "cpu"), (0, "cpu", "cpu"), (2, "auto", "cuda:0"), (2, "cuda", "cuda:0"),
    (2, "cuda:1", "cuda:1"), (1, "CPU", "cpu"), (1, " cuda:0 ", "cuda:0"),
])
def test_resolve_device(monkeypatch, gpus, name, want):
    monkeypatch.setattr(devices, "cuda_count", lambda: gpus)
    assert str(devices.resolve_device(name)) == want


@pytest.mark.parametrize("gpus, name, match", [
    (0, "cuda", "no CUDA GPU"), (0, "cuda:0", "no CUDA GPU"), (2, "cuda:2", "only 2 CUDA"),
    (2, "gpu", "auto|cpu|cuda"), (2, "cpu:1", "auto|cpu|cuda"), (2, "cuda:x", "auto|cpu|cuda"), (2, "", "auto"),
])
def test_bad_devices(monkeypatch, gpus, name, match):
    monkeypatch.setattr(devices, "cuda_count", lambda: gpus)
    with pytest.raises(XmodalError, match=match):
        devices.resolve_device(name or "bogus")


def test_device_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setattr(devices, "cuda_count", lambda: 1)
    monkeypatch.setenv("XMODAL_DEVICE", "cpu")
    assert str(devices.resolve_device()) == "cpu"
    monkeypatch.delenv("XMODAL_DEVICE")
    assert str(devices.resolve_device()) == "cuda:0"


def test_precision_on_cuda_and_cpu():
    assert TorchRunner(devices.Device("cuda", 0)).precision == "fp16"
    assert TorchRunner(devices.Device("cuda", 0), "bf16").precision == "bf16"
    assert TorchRunner(devices.Device("cpu")).precision == "fp32"
    with pytest.raises(XmodalError, match="needs --device cuda"):
        TorchRunner(devices.Device("cpu"), "fp16")


@pytest.mark.parametrize("kw, match", [({"backend": "tensorrt"}, "--backend"),
                                       ({"precision": "int4"}, "--precision"), ({"device": "tpu"}, "--device")])
def test_bad_options_fail_before_loading(monkeypatch, kw, match):
    from xmodal.alignment import registry

    monkeypatch.setattr(registry, "parse_spec", lambda s: pytest.fail("model spec read before options"))
    with pytest.raises(XmodalError, match=match):
        load_encoder("tiny", **kw)
    with pytest.raises(XmodalError, match=match):
        run_options(**kw)


def test_a_cuda_stack_moves_its_towers(monkeypatch):
    """Binding to cuda with CUDA mocked present: the runner targets cuda:1 and
    would move the frozen module there on first use."""
    monkeypatch.setattr(devices, "cuda_count", lambda: 2)
    stack = load_encoder("tiny", backend="torch", device="cuda:1")
    runner = stack.encoder("image").runner
    assert runner.device.torch_name == "cuda:1" and runner.precision == "fp16"
    assert stack.info["run"]["device"] == "cuda:1"
