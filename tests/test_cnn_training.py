"""CNN training helpers: augmentation, confusion matrix and k-NN against closed forms and sklearn, tiny
training runs that must learn, the transfer experiment's protocol, and the GPU recipes at tiny size."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.cnn_training import (GPU_RECIPES, Normalize, accuracy, as_images, confusion_matrix, knn_predict,
                                   mnist_cnn, predict, random_shift, train_cnn, train_linear_classifier,
                                   transfer_experiment)


def _blobs(n=200, seed=0):
    """Two easy image classes: horizontal or vertical stripes (at a random phase), plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.uniform(0, 0.3, size=(n, 28, 28))
    for i, label in enumerate(y):
        phase = rng.integers(0, 4)
        if label == 0:
            X[i, phase::4, :] += 0.6
        else:
            X[i, :, phase::4] += 0.6
    return X.reshape(n, 784).clip(0, 1), y


def test_random_shift_moves_whole_images_by_at_most_s_pixels():
    x = torch.zeros(50, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert torch.all(out.sum(dim=(1, 2, 3)) == 1)  # the dot is never lost at shift <= 2
    rows, cols = np.nonzero(out[:, 0].numpy().sum(0))
    assert rows.min() >= 2 and rows.max() <= 6 and cols.min() >= 2 and cols.max() <= 6
    assert len(set(map(tuple, np.argwhere(out[:, 0].numpy())[:, 1:]))) > 5  # really random
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


def test_confusion_matrix_matches_sklearn():
    from sklearn.metrics import confusion_matrix as sk

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    np.testing.assert_array_equal(confusion_matrix(y, p, 4), sk(y, p, labels=range(4)))
    assert confusion_matrix(y, y, 4).trace() == 100


def test_knn_matches_sklearn():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(1)
    X, y, Q = rng.normal(size=(60, 5)), rng.integers(0, 3, 60), rng.normal(size=(20, 5))
    for k in (1, 3, 5):
        expected = KNeighborsClassifier(k).fit(X, y).predict(Q)
        np.testing.assert_array_equal(knn_predict(X, y, Q, k), expected)


def test_the_cnn_learns_an_easy_task_and_beats_chance_on_validation():
    X, y = _blobs(240)
    torch.manual_seed(0)
    model = mnist_cnn(4, n_classes=2)
    history = train_cnn(model, X[:200], y[:200], X[200:], y[200:], epochs=3, lr=1e-2)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] >= 0.95 and len(history["seconds"]) == 3
    assert accuracy(model, X[200:], y[200:]) == history["val_acc"][-1]


def test_training_is_deterministic_for_a_seed():
    X, y = _blobs(64)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mnist_cnn(2, n_classes=2)
        runs.append(train_cnn(model, X, y, epochs=1, seed=3)["train_loss"])
    assert runs[0] == runs[1]


def test_frozen_features_only_change_the_head():
    X, y = _blobs(64)
    torch.manual_seed(0)
    model = mnist_cnn(2, n_classes=2)
    before = [p.detach().clone() for p in model.parameters()]
    train_cnn(model, X, y, epochs=1, params=model[-1].parameters())
    after = list(model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before[:-2], after[:-2]))
    assert not torch.equal(before[-1], after[-1].detach())


def test_linear_classifier_separates_a_linear_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    X = rng.uniform(0, 0.3, size=(100, 28, 28))
    X[y == 0, :, :14] += 0.6  # bright left half or bright right half
    X[y == 1, :, 14:] += 0.6
    X = X.reshape(100, 784)
    model = train_linear_classifier(X, y, epochs=2)
    assert np.mean(model(torch.tensor(X, dtype=torch.float32)).argmax(1).numpy() == y) > 0.95


def test_normalize_and_as_images():
    torch.testing.assert_close(Normalize(0.5, 0.25)(torch.tensor([1.0])), torch.tensor([2.0]))
    assert as_images(np.zeros((3, 784))).shape == (3, 1, 28, 28)
    assert as_images(np.zeros((3, 28, 28))).dtype == np.float32


def test_transfer_experiment_protocol_on_a_tiny_split():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(200, 784))
    y = np.repeat(np.arange(10), 20)
    splits = {"X_train": X[:150], "y_train": y[:150] if False else np.tile(np.arange(10), 15),
              "X_val": X[150:], "y_val": np.tile(np.arange(10), 5)}
    out = transfer_experiment(splits, n_per_class=(1, 2), source_epochs=1, target_epochs=1, width=2)
    assert out["n_per_class"] == [1, 2] and 0 <= out["source_val_acc"] <= 1
    for method in ("scratch", "features", "fine-tune"):
        assert len(out["val_acc"][method]) == 2 and set(out["models"][method]) == {1, 2}
        assert out["models"][method][2][-1].out_features == 5


@pytest.mark.parametrize("name", sorted(GPU_RECIPES))
def test_gpu_recipes_run_tiny_on_cpu(name):
    result = GPU_RECIPES[name](torch.device("cpu"), tiny=True)
    assert "tiny" in result["dataset"] and 0 <= result["test_accuracy"] <= 1 and result["seconds"] > 0
    assert result["bar"] in (0.99, 0.90)


BAD = [(confusion_matrix, ([0, 1], [0, 2], 2), "y_pred"), (confusion_matrix, ([0, 1], [0], 2), "shape"),
       (knn_predict, (np.ones((3, 2)), [0, 1, 0], np.ones((1, 3)), 1), "shape"),
       (knn_predict, (np.ones((3, 2)), [0, 1, 0], np.ones((1, 2)), 4), "k"),
       (as_images, (np.ones((2, 10)),), "28x28"), (as_images, (2 * np.ones((2, 784)),), r"\[0, 1\]"),
       (train_cnn, (mnist_cnn(2), np.zeros((4, 784)), [0, 1, 0, 1]), {"epochs": 0}, "epochs"),
       (train_cnn, (mnist_cnn(2), np.zeros((4, 784)), [0, 1, 0, 11]), "y_train"),
       (train_cnn, (mnist_cnn(2), np.zeros((4, 784)), [0, 1, 0, 1], np.zeros((2, 784))), "both"),
       (mnist_cnn, (0,), "width"), (predict, (mnist_cnn(2), np.full((2, 784), np.nan)), "finite")]


@pytest.mark.parametrize("case", BAD, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_raises_a_clear_value_error(case):
    fn, args, *rest = case
    kwargs, words = (rest[0], rest[1]) if len(rest) == 2 else ({}, rest[0])
    with pytest.raises(ValueError, match=words):
        fn(*args, **kwargs)
