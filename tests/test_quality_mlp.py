"""Chapter 2 quality bar: an MLP on the offline MNIST-5k subset reaches >= 94% test accuracy on CPU.

The protocol of the chapter: 3,000 images to train, 1,000 to validate (where the chapter chose the
settings used here), and the 1,000 test images touched once.
"""
import numpy as np
import pytest

from dlcourse.data import load_mnist_5k, stratified_split
from dlcourse.mlp import mlp_predict
from dlcourse.mlp_training import train_mnist_mlp, train_numpy_mlp
from dlcourse.training import evaluate


@pytest.mark.quality
def test_torch_mlp_reaches_94_percent_on_mnist_5k():
    X_pool, y_pool, X_test, y_test = load_mnist_5k(test_size=1000, seed=0)
    train, val = stratified_split(y_pool, test_size=1000, seed=0)
    model, history = train_mnist_mlp(X_pool[train], y_pool[train], X_pool[val], y_pool[val], hidden=(512, 256),
                                     lr=0.05, epochs=15, seed=0)
    assert history.val_acc[-1] >= 0.94, f"validation accuracy {history.val_acc[-1]:.3f} < 0.94"
    _, test_accuracy = evaluate(model, (X_test, y_test))
    assert test_accuracy >= 0.94, f"test accuracy {test_accuracy:.3f} < 0.94"


@pytest.mark.quality
def test_numpy_mlp_from_scratch_reaches_93_percent_on_mnist_5k():
    X_train, y_train, X_test, y_test = load_mnist_5k(test_size=1000, seed=0)
    mean, std = X_train.mean(axis=0), X_train.std()
    params, _ = train_numpy_mlp((X_train - mean) / std, y_train, [784, 256, 10], activation="relu", epochs=20,
                                batch_size=64, lr=0.1, schedule="cosine", seed=0)
    accuracy = np.mean(mlp_predict(params, (X_test - mean) / std, "relu") == y_test)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.3f} < 0.93"
