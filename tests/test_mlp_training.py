"""Gradient-descent training, learning-rate schedules and the MNIST recipes (tiny synthetic stand-ins on CPU)."""
import math

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
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
                                                device="cpu", progress=False, val_size=50)
    assert len(history.train_loss) == 2 and len(history.val_acc) == 2
    assert accuracy >= 0.9
    assert [m.out_features for m in model if isinstance(m, torch.nn.Linear)] == [64, 32, 10]


def test_train_full_mnist_holds_out_validation_from_the_training_images(monkeypatch):
    from dlcourse import mlp_training as module

    seen = {}

    def spy(X_train, y_train, X_val, y_val, **kwargs):
        seen.update(n_train=len(X_train), n_val=len(X_val), val=X_val.copy())
        return real(X_train, y_train, X_val, y_val, **kwargs)

    real = module.train_mnist_mlp
    monkeypatch.setattr(module, "train_mnist_mlp", spy)
    train, test = synthetic_digits(400, 2), synthetic_digits(100, 3)
    train_full_mnist(epochs=1, hidden=(16,), data=(*train, *test), device="cpu", progress=False, val_size=40)
    assert (seen["n_train"], seen["n_val"]) == (360, 40)
    test_vectors = mnist_as_vectors(test[0])
    assert not any(np.array_equal(row, t) for row in seen["val"][:5] for t in test_vectors)  # never the test set


def test_input_validation_of_the_mnist_helpers():
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        mnist_as_vectors(np.zeros((3, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        train_mnist_mlp(np.zeros((3, 10)), np.zeros(3, dtype=int), np.zeros((3, 10)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="epochs"):
        train_numpy_mlp(np.zeros((3, 2)), np.zeros(3, dtype=int), [2, 2], epochs=0)


# --- regressions: silent wrong answers found by probing ---------------------------------------------

def test_validation_labels_of_shape_n_by_1_are_refused_instead_of_broadcast():
    X, y = make_moons(20, seed=0)
    # (N,) == (N, 1) broadcasts to (N, N): the old val_acc was a meaningless fraction of that matrix
    with pytest.raises(ValueError, match=r"y_val must have shape \(20,\)"):
        train_numpy_mlp(X, y, [2, 4, 2], epochs=1, X_val=X, y_val=y[:, None])
    with pytest.raises(ValueError, match="both X_val and y_val"):
        train_numpy_mlp(X, y, [2, 4, 2], epochs=1, X_val=X)


def test_one_output_bce_training_accepts_n_targets_and_refuses_transposed_ones():
    X, y = make_moons(40, noise=0.1, seed=0)
    params, history = train_numpy_mlp(X, y.astype(float), [2, 8, 1], loss="bce", epochs=30, batch_size=8, lr=0.5,
                                      X_val=X, y_val=y)
    assert history["val_acc"][-1] >= 0.85 and params[-1][0].shape == (1, 8)
    with pytest.raises(ValueError, match="shape of the outputs"):
        train_numpy_mlp(X, np.stack([y, 1 - y]).astype(float), [2, 8, 2], loss="bce", epochs=1)


def test_divergent_training_stops_with_a_clear_error_instead_of_nan_weights():
    rng = np.random.default_rng(0)
    X, t = rng.normal(size=(20, 2)), 10 * rng.normal(size=(20, 1))
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="diverged.*smaller learning rate"):
        train_numpy_mlp(X, t, [2, 8, 1], "relu", loss="mse", epochs=50, lr=5.0)


def test_bad_training_settings_are_value_errors_not_zero_divisions():
    X, y = make_moons(10, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_numpy_mlp(X, y, [2, 3, 2], batch_size=0)
    with pytest.raises(ValueError, match=r"layer_sizes\[0\] must be the number of input features 2"):
        train_numpy_mlp(X, y, [3, 3, 2])
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        minibatch_indices(5, 2, None)
    with pytest.raises(ValueError, match="gamma"):
        learning_rate("step", 50, 100, 0.1, gamma=3.0)  # a "drop" that triples the rate
    with pytest.raises(ValueError, match="integer 0 <= step"):
        learning_rate("cosine", 2.5, 10, 0.1)
    with pytest.raises(ValueError, match="lr_min"):
        learning_rate("cosine", 0, 10, 0.1, lr_min=0.2)


def test_mnist_as_vectors_refuses_float_images_instead_of_dividing_them_again():
    images = synthetic_digits(3, 0)[0]
    np.testing.assert_array_equal(mnist_as_vectors(images), images.reshape(3, -1) / np.float32(255))
    np.testing.assert_array_equal(mnist_as_vectors(images.astype(np.int64)), mnist_as_vectors(images))
    np.testing.assert_array_equal(mnist_as_vectors(np.asfortranarray(images)), mnist_as_vectors(images))
    with pytest.raises(ValueError, match="integer pixel values 0..255"):
        mnist_as_vectors(images / 255.0)  # the old code returned values in [0, 1/255]
    with pytest.raises(ValueError, match="0..255"):
        mnist_as_vectors(images.astype(np.int64) * 2)
    with pytest.raises(ValueError, match="integer pixel values"):
        mnist_as_vectors(images > 100)


def test_standardize_and_random_shift_refuse_settings_that_give_inf_or_a_reshape_error():
    with pytest.raises(ValueError, match="std must be > 0"):
        Standardize(np.zeros(784), np.zeros(784))  # border pixels of MNIST have std 0: x / 0 = inf
    with pytest.raises(ValueError, match="statistics of 784 features"):
        Standardize(np.zeros(784), 1.0)(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(28)
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        RandomShift(1)(torch.zeros(2, 100))


def test_train_mnist_mlp_wants_pixels_in_the_unit_interval_and_labels_0_to_9():
    X, y = synthetic_digits(8, 0)
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\]"):
        train_mnist_mlp(X.reshape(8, -1).astype(float), y, mnist_as_vectors(X), y, epochs=1)
    with pytest.raises(ValueError, match="class labels in 0..9"):
        train_mnist_mlp(mnist_as_vectors(X), y + 10, mnist_as_vectors(X), y, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train_full_mnist(epochs=0, data=(X, y, X, y))  # checked before any download


# --- every public function refuses bad input with a ValueError ----------------------------------------

from dlcourse import mlp_training  # noqa: E402
from dlcourse.mlp_training import mnist_mlp  # noqa: E402

XM, YM = make_moons(12, seed=0)
IMAGES, DIGITS = synthetic_digits(8, 0)
PIXELS = mnist_as_vectors(IMAGES)
NOT_ARRAYS = [None, ["a", "b"], "text"]
BAD_SIZE = [0, -1, True, 2.5, None, "3"]
BAD_POSITIVE = [0.0, -1.0, np.nan, np.inf, True, None, "1"]
BAD_FLAG = [1, "yes", None]
FAST = dict(hidden=(4,), epochs=1, batch_size=8)

TABLE = {
    "gpu_recipe_mnist": (mlp_training.gpu_recipe_mnist, dict(tiny=True),
                         dict(tiny=[1, None, "yes"], offline=[0, "no"], download=[1], epochs=[0, 2.5, True])),
    "learning_rate": (learning_rate, dict(schedule="cosine", step=3, total_steps=10, lr0=0.1),
                      dict(schedule=["linear", None, ["cosine"]], step=[-1, 11, True, 1.0, None],
                           total_steps=BAD_SIZE, lr0=BAD_POSITIVE, gamma=[0.0, 1.5, np.nan, True],
                           n_drops=[-1, 1.5, None], final_ratio=[0.0, 2.0, np.nan], lr_min=[-0.1, 0.2, np.nan])),
    "minibatch_indices": (minibatch_indices, dict(n=10, batch_size=3, rng=np.random.default_rng(0)),
                          dict(n=BAD_SIZE, batch_size=BAD_SIZE, rng=[None, 0, np.random.RandomState(0)])),
    "train_numpy_mlp": (train_numpy_mlp, dict(X=XM, targets=YM, layer_sizes=[2, 3, 2], epochs=1, batch_size=4),
                        dict(X=NOT_ARRAYS + [XM > 0, np.full((12, 2), np.nan), XM[:, 0], XM[:0]],
                             targets=NOT_ARRAYS + [YM > 0, YM[:, None], YM + 2, YM[:5], YM.astype(float)],
                             layer_sizes=[[2], [2, 0, 2], [3, 2], None], activation=["swish", None],
                             loss=["hinge", None], epochs=BAD_SIZE, batch_size=BAD_SIZE, lr=BAD_POSITIVE,
                             schedule=["linear", None], seed=[-1, 1.5, None], X_val=[XM[:, :1], np.ones((0, 2))],
                             y_val=[YM[:3], YM + 5], record_steps=BAD_FLAG)),
    "Standardize": (Standardize, dict(mean=0.0, std=1.0),
                    dict(mean=NOT_ARRAYS + [np.nan, True], std=[0.0, -1.0, np.nan, np.zeros(3), None, np.ones(0)])),
    "RandomShift": (RandomShift, dict(max_shift=1, side=28), dict(max_shift=[-1, 28, 1.5, True, None],
                                                                  side=BAD_SIZE)),
    "mnist_mlp": (mnist_mlp, dict(hidden=(8,)), dict(hidden=[(0,), (-4,), (2.5,), None, "8"], mean=[np.nan, None],
                                                      std=[0.0, np.nan], max_shift=[-1, 28, None])),
    "train_mnist_mlp": (train_mnist_mlp, dict(X_train=PIXELS, y_train=DIGITS, X_val=PIXELS, y_val=DIGITS, **FAST),
                        dict(X_train=NOT_ARRAYS + [PIXELS > 0, PIXELS * 255, PIXELS[:, :100], np.ones((0, 784))],
                             y_train=[DIGITS[:3], DIGITS + 10, DIGITS > 3, DIGITS.astype(float)],
                             X_val=[PIXELS[:, :10], np.full((2, 784), np.nan)], y_val=[DIGITS[:2], None],
                             hidden=[(0,), None], epochs=BAD_SIZE, lr=BAD_POSITIVE,
                             momentum=[-0.1, 1.0, np.nan, None], batch_size=BAD_SIZE, max_shift=[-1, 28],
                             seed=[-1, None], device=["gpu0", 3], progress=BAD_FLAG)),
    "mnist_as_vectors": (mnist_as_vectors, dict(images=IMAGES),
                         dict(images=NOT_ARRAYS + [IMAGES > 0, IMAGES / 255.0, IMAGES.reshape(8, -1),
                                                   IMAGES[:, :27], IMAGES.astype(int) - 1, IMAGES[:0]])),
    "train_full_mnist": (train_full_mnist, dict(data=(IMAGES, DIGITS, IMAGES, DIGITS), progress=False, val_size=2,
                                                **FAST),
                         dict(data=[(IMAGES, DIGITS), "mnist", (PIXELS, DIGITS, PIXELS, DIGITS),
                                    (IMAGES, DIGITS + 10, IMAGES, DIGITS)],
                              epochs=BAD_SIZE, hidden=[(0,), None], batch_size=BAD_SIZE, lr=BAD_POSITIVE,
                              val_size=[0, 2.5, True, 8],
                              seed=[-1, None], device=["gpu0"], progress=BAD_FLAG)),
}


globals().update(table_tests(TABLE, [mlp_training]))


