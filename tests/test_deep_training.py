"""Chapter 3's PyTorch recipes: structure, the dropout convention, gradient norms, interpolation, the GPU path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import deep_training as dt
from dlcourse.training import evaluate


def test_make_mlp_layers_and_torchs_drop_probability():
    model = dt.make_mlp((32, 16), keep_prob=0.8, batchnorm=True)
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("BatchNorm1d") == 2 and kinds.count("Dropout") == 2 and kinds[-1] == "Linear"
    assert all(m.p == pytest.approx(0.2) for m in model if isinstance(m, nn.Dropout))
    assert "Dropout" not in [type(m).__name__ for m in dt.make_mlp((8,))]


def test_dropout_layer_is_inverted_dropout_with_keep_prob():
    torch.manual_seed(0)
    model = dt.make_mlp((400,), keep_prob=0.75)
    model.train()
    x = torch.rand(64, 784)
    h = model[:4](x)  # shift, standardise, linear, relu
    out = model[4](h)
    kept = out != 0
    assert abs(float(kept[h != 0].float().mean()) - 0.75) < 0.02
    torch.testing.assert_close(out[kept], h[kept] / 0.75)
    model.eval()
    torch.testing.assert_close(model[4](h), h)  # identity at test time


def test_deep_mlp_gradient_norms_match_a_manual_backward():
    torch.manual_seed(1)
    model = dt.DeepMLP(depth=4, width=8, activation="tanh", residual=True).double()
    X = np.random.default_rng(0).random((5, 784))
    y = np.array([0, 3, 9, 1, 1])
    norms = dt.gradient_norms_on_batch(model.float(), X, y)
    params = [p.detach().double().requires_grad_() for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    values = dict(zip(names, params))
    h = torch.tensor(X) @ values["inp.weight"].T + values["inp.bias"]
    for i in range(4):
        h = h + torch.tanh(h @ values[f"blocks.{i}.weight"].T + values[f"blocks.{i}.bias"])
    logits = h @ values["out.weight"].T + values["out.bias"]
    nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    expected = [float(values[f"blocks.{i}.weight"].grad.norm()) for i in range(4)]
    np.testing.assert_allclose(norms, expected, rtol=1e-4)


def test_interpolation_losses_end_at_the_two_models():
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    torch.manual_seed(0)
    model = dt.make_mlp((16,))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    dt.train_model(model, (X, y), (X, y), epochs=3, lr=0.1)
    end = {k: v.clone() for k, v in model.state_dict().items()}
    losses = dt.interpolation_losses(start, end, model, X, y, [0.0, 0.5, 1.0])
    end_loss, _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
    model.load_state_dict(start)
    start_loss, _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
    assert losses[0] == pytest.approx(start_loss, rel=1e-6) and losses[-1] == pytest.approx(end_loss, rel=1e-6)


def test_filter_normalised_direction_matches_each_rows_norm_and_skips_biases():
    torch.manual_seed(0)
    state = dt.make_mlp((16, 8)).state_dict()
    direction = dt.filter_normalised_direction(state, seed=3)
    assert set(direction) == set(state)
    for name, weight in state.items():
        d = direction[name]
        assert d.shape == weight.shape
        if weight.ndim >= 2:  # one unit's incoming weights: the same norm as in the model
            np.testing.assert_allclose(d.reshape(len(d), -1).norm(dim=1).numpy(),
                                       weight.reshape(len(weight), -1).norm(dim=1).numpy(), rtol=1e-5)
            assert not torch.allclose(d, weight)
        else:
            assert torch.count_nonzero(d) == 0
    again = dt.filter_normalised_direction(state, seed=3)
    assert all(torch.equal(direction[k], again[k]) for k in state)


def test_loss_surface_is_the_loss_at_each_point_of_the_plane():
    rng = np.random.default_rng(1)
    X, y = rng.random((30, 784)).astype(np.float32), rng.integers(0, 10, 30)
    torch.manual_seed(0)
    model = dt.make_mlp((8,))
    centre = {k: v.clone() for k, v in model.state_dict().items()}
    d1, d2 = dt.filter_normalised_direction(centre, 1), dt.filter_normalised_direction(centre, 2)
    coords, losses = dt.loss_surface(model, centre, d1, d2, X, y, span=0.5, steps=3)
    np.testing.assert_allclose(coords, [-0.5, 0.0, 0.5])
    assert all(torch.equal(v, centre[k]) for k, v in model.state_dict().items())  # left at the centre
    centre_loss, _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
    assert losses.shape == (3, 3) and losses[1, 1] == pytest.approx(centre_loss, rel=1e-6)
    corner = {k: centre[k] + 0.5 * d1[k] - 0.5 * d2[k] for k in centre}  # a = +0.5 (column 2), b = -0.5 (row 0)
    model.load_state_dict(corner)
    corner_loss, _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
    assert losses[0, 2] == pytest.approx(corner_loss, rel=1e-6)
    with pytest.raises(ValueError, match="keys of centre"):
        dt.loss_surface(model, centre, {"w": torch.zeros(1)}, d2, X, y)


def test_optimiser_names_build_the_torch_optimisers():
    params = [nn.Parameter(torch.zeros(2))]
    assert isinstance(dt.make_optimizer("adamw", params, 0.1, 0.01), torch.optim.AdamW)
    sgd = dt.make_optimizer("momentum", params, 0.1)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9


def test_gpu_recipe_runs_tiny_on_cpu():
    result = dt.GPU_RECIPES["03_training.deep_mnist_bn_dropout"](torch.device("cpu"), tiny=True)
    assert result["dataset"].endswith("(tiny)") and 0.0 <= result["test_accuracy"] <= 1.0
    assert result["bar"] == 0.985 and result["seconds"] > 0


BAD = [
    (lambda: dt.make_mlp(256), "tuple of layer widths"),
    (lambda: dt.make_mlp((0,)), "hidden\\[0\\]"),
    (lambda: dt.make_mlp((8,), keep_prob=0.0), "keep_prob"),
    (lambda: dt.make_mlp((8,), batchnorm=1), "batchnorm"),
    (lambda: dt.DeepMLP(depth=0), "depth"),
    (lambda: dt.DeepMLP(activation="gelu"), "activation"),
    (lambda: dt.make_optimizer("lbfgs", [nn.Parameter(torch.zeros(1))], 0.1), "optimizer"),
    (lambda: dt.train_model(dt.make_mlp((4,)), np.zeros((3, 784)), None), "pair"),
    (lambda: dt.train_model(dt.make_mlp((4,)), (np.zeros((3, 10)), [0, 1, 2]), None), "784"),
    (lambda: dt.train_model(dt.make_mlp((4,)), (np.zeros((3, 784)), [0, 1, 12]), None), "class labels"),
    (lambda: dt.train_full_mnist_deep(epochs=0), "epochs"),
    (lambda: dt.train_full_mnist_deep(data=(1, 2)), "data must"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
