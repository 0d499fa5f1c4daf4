"""Chapter 2 quality bar: an MLP on the offline MNIST-5k subset reaches >= 94% test accuracy on CPU."""
import numpy as np
import pytest

from dlcourse.data import load_mnist_5k
from dlcourse.mlp import mlp_predict
from dlcourse.mlp_training import train_mnist_mlp, train_numpy_mlp


@pytest.mark.quality
def test_torch_mlp_reaches_94_percent_on_mnist_5k():
    X_train, y_train, X_test, y_test = load_mnist_5k(test_size=1000, seed=0)
    _, history = train_mnist_mlp(X_train, y_train, X_test, y_test, hidden=(512, 256), epochs=15, seed=0)
    assert history.val_acc[-1] >= 0.94, f"test accuracy {history.val_acc[-1]:.3f} < 0.94"


@pytest.mark.quality
def test_numpy_mlp_from_scratch_reaches_93_percent_on_mnist_5k():
    X_train, y_train, X_test, y_test = load_mnist_5k(test_size=1000, seed=0)
    mean, std = X_train.mean(axis=0), X_train.std()
    params, _ = train_numpy_mlp((X_train - mean) / std, y_train, [784, 256, 10], activation="relu", epochs=20,
                                batch_size=64, lr=0.1, schedule="cosine", seed=0)
    accuracy = np.mean(mlp_predict(params, (X_test - mean) / std, "relu") == y_test)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.3f} < 0.93"
