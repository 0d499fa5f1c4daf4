"""Gradient-descent training, learning-rate schedules and the MNIST recipes (tiny synthetic stand-ins on CPU)."""
import math

import numpy as np
import pytest
import torch

from dlcourse import mlp
from dlcourse.data import make_moons
from dlcourse.mlp_training import (RandomShift, Standardize, learning_rate, minibatch_indices, mnist_as_vectors,
                                   train_full_mnist, train_mnist_mlp, train_numpy_mlp)


def test_schedules_follow_their_closed_forms():
    T, lr0 = 100, 0.4
    assert [learning_rate("constant", k, T, lr0) for k in (0, 50, 100)] == [0.4, 0.4, 0.4]
    # step: 3 drops by gamma = 0.5 every ceil(100 / 4) = 25 steps
    assert [learning_rate("step", k, T, lr0) for k in (0, 24, 25, 50, 99)] == [0.4, 0.4, 0.2, 0.1, 0.05]
    np.testing.assert_allclose(learning_rate("exponential", 100, T, lr0), 0.4 * 0.01, rtol=1e-12)
    np.testing.assert_allclose(learning_rate("exponential", 30, T, lr0), 0.4 * math.exp(-30 * math.log(100) / 100))
    np.testing.assert_allclose([learning_rate("cosine", k, T, lr0, lr_min=0.1) for k in (0, 50, 100)],
                               [0.4, 0.25, 0.1], atol=1e-15)
    with pytest.raises(ValueError, match="schedule must be one of"):
        learning_rate("linear", 0, T, lr0)
    with pytest.raises(ValueError, match="0 <= step <= total_steps"):
        learning_rate("cosine", 101, T, lr0)


def test_an_epoch_is_one_full_pass_in_ceil_n_over_b_steps():
    batches = minibatch_indices(10, 4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    X, y = make_moons(50, noise=0.1, seed=0)
    for batch_size, steps_per_epoch in [(50, 1), (1, 50), (16, 4)]:
        _, history = train_numpy_mlp(X, y, [2, 8, 2], epochs=3, batch_size=batch_size, lr=0.1)
        assert len(history["step_loss"]) == 3 * steps_per_epoch
        assert len(history["epoch_loss"]) == 3


def test_batch_gradient_descent_matches_torch_sgd_step_for_step():
    X, y = make_moons(40, noise=0.1, seed=1)
    params, history = train_numpy_mlp(X, y, [2, 6, 2], activation="tanh", epochs=5, batch_size=40, lr=0.3, seed=4)
    model = mlp.torch_mlp_from_params(mlp.init_mlp([2, 6, 2], "tanh", seed=4), "tanh")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(X)), torch.tensor(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    np.testing.assert_allclose(history["step_loss"], losses, rtol=1e-12)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for (W, b), linear in zip(params, linears):
        np.testing.assert_allclose(W, linear.weight.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(b, linear.bias.detach().numpy(), atol=1e-12)


def test_numpy_mlp_learns_the_moons_and_follows_its_schedule():
    X, y = make_moons(200, noise=0.15, seed=0)
    params, history = train_numpy_mlp(X, y, [2, 16, 2], activation="tanh", epochs=60, batch_size=20, lr=0.5,
                                      schedule="cosine", seed=0, X_val=X, y_val=y)
    assert history["val_acc"][-1] >= 0.95
    assert history["epoch_loss"][-1] < 0.5 * history["epoch_loss"][0]
    assert history["lr"][0] == 0.5 and history["lr"][-1] < 0.01


def test_train_numpy_mlp_is_deterministic_and_keeps_float32():
    X, y = make_moons(30, seed=2)
    a, _ = train_numpy_mlp(X.astype(np.float32), y, [2, 5, 2], epochs=2, seed=7)
    b, _ = train_numpy_mlp(X.astype(np.float32), y, [2, 5, 2], epochs=2, seed=7)
    assert a[0][0].dtype == np.float32
    np.testing.assert_array_equal(a[0][0], b[0][0])


def test_random_shift_moves_each_image_by_at_most_one_pixel():
    torch.manual_seed(0)
    images = torch.zeros(6, 28, 28)
    images[:, 10:18, 12:15] = torch.rand(6, 8, 3) + 0.5  # content away from the border
    shift = RandomShift(1)
    out = shift(images.reshape(6, -1)).reshape(6, 28, 28)
    for original, moved in zip(images, out):
        candidates = [torch.roll(original, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert any(torch.equal(moved, c) for c in candidates)
    assert torch.allclose(out.sum(dim=(1, 2)), images.sum(dim=(1, 2)))
    shift.eval()
    assert torch.equal(shift(images.reshape(6, -1)), images.reshape(6, -1))


def test_standardize_uses_the_given_statistics():
    layer = Standardize(np.array([1.0, 2.0]), 2.0)
    assert torch.allclose(layer(torch.tensor([[3.0, 2.0]])), torch.tensor([[1.0, 0.0]]))


def synthetic_digits(n, seed):
    """A stand-in for MNIST: class k is a bright 6x6 square at one of 10 places, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    images = rng.integers(0, 40, size=(n, 28, 28))
    for i, k in enumerate(labels):
        r, c = 2 + 12 * (k // 5), 2 + 5 * (k % 5)
        images[i, r:r + 6, c:c + 4] = 255
    return images.astype(np.uint8), labels.astype(np.int64)


def test_train_mnist_mlp_runs_end_to_end_on_a_tiny_stand_in():
    Xtr, ytr = synthetic_digits(300, 0)
    Xte, yte = synthetic_digits(100, 1)
    X_train = mnist_as_vectors(Xtr)
    model, history = train_mnist_mlp(X_train, ytr, mnist_as_vectors(Xte), yte, hidden=(32,), epochs=3,
                                     batch_size=32, seed=0)
    assert len(history.val_acc) == 3 and history.val_acc[-1] >= 0.9
    assert isinstance(model[0], RandomShift)
    np.testing.assert_allclose(model[1].mean.numpy(), X_train.mean(axis=0), rtol=1e-6)


def test_train_full_mnist_recipe_on_a_tiny_stand_in():
    data = (*synthetic_digits(400, 2), *synthetic_digits(100, 3))
    model, history, accuracy = train_full_mnist(epochs=2, hidden=(64, 32), batch_size=50, data=data,
                                                device="cpu", progress=False)
    assert len(history.train_loss) == 2
    assert accuracy >= 0.9
    assert [m.out_features for m in model if isinstance(m, torch.nn.Linear)] == [64, 32, 10]


def test_input_validation_of_the_mnist_helpers():
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        mnist_as_vectors(np.zeros((3, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        train_mnist_mlp(np.zeros((3, 10)), np.zeros(3, dtype=int), np.zeros((3, 10)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="epochs"):
        train_numpy_mlp(np.zeros((3, 2)), np.zeros(3, dtype=int), [2, 2], epochs=0)
