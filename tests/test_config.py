import random

import numpy as np
import pytest
import torch

from dlcourse import config


def test_mode_env_override(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    assert config.get_mode() == "full"
    monkeypatch.setenv("DLCOURSE_MODE", "FAST")
    assert config.get_mode() == "fast"


def test_mode_defaults_to_cuda_availability(monkeypatch):
    monkeypatch.delenv("DLCOURSE_MODE", raising=False)
    monkeypatch.setattr(config, "_cuda_available", lambda: False)
    assert config.get_mode() == "fast"
    monkeypatch.setattr(config, "_cuda_available", lambda: True)
    assert config.get_mode() == "full"


def test_bad_mode_names_the_allowed_values(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "turbo")
    with pytest.raises(ValueError, match=r"fast.*full.*turbo"):
        config.get_mode()


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    config.seed_everything(123)
    first = draw()
    config.seed_everything(123)
    assert draw() == first
    config.seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        config.seed_everything(seed)


def test_cuda_device_without_cuda_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert config.get_device().type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        config.get_device("cuda")


def test_setup_prints_mode_and_device(capsys, monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "fast")
    info = config.setup(seed=7)
    out = capsys.readouterr().out
    assert info["mode"] == "fast" and info["seed"] == 7
    assert "mode: fast" in out and f"device: {info['device']}" in out
