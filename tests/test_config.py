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


def test_device_names_torch_cannot_parse_are_value_errors():
    for bad in ("gpu0", "cuda:x", 3, ["cpu"]):
        with pytest.raises(ValueError, match="device must be"):
            config.get_device(bad)
    assert config.get_device(torch.device("cpu")).type == "cpu"


@pytest.mark.parametrize("flag", [1, "yes", None])
def test_seed_everything_wants_a_real_bool_for_deterministic(flag):
    with pytest.raises(ValueError, match="deterministic must be True or False"):
        config.seed_everything(0, deterministic=flag)


def test_every_public_function_is_covered_by_a_bad_input_test():
    # get_mode/is_full read only $DLCOURSE_MODE (test_bad_mode_names_the_allowed_values); setup takes the seed
    public = {name for name, obj in vars(config).items()
              if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == config.__name__}
    assert public == {"get_mode", "is_full", "get_device", "seed_everything", "setup"}


@pytest.mark.parametrize("seed", [-1, 1.5, True, None])
def test_setup_refuses_bad_seeds_before_changing_anything(seed, monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "turbo")
    with pytest.raises(ValueError, match="seed must be an integer"):
        config.setup(seed)
    with pytest.raises(ValueError, match="turbo"):
        config.is_full()
