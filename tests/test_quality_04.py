"""Chapter 4 quality bar: the small CNN on MNIST-5k reaches >= 97% test accuracy in CPU mode.

The chapter's protocol: 3,200 images to train, 800 to validate (where the recipe was chosen), and
the 1,000 test images touched once, here as in the notebook. The CNN must also beat both baselines.
"""
import numpy as np
import pytest
import torch

from dlcourse.cnn_training import accuracy, knn_predict, mnist_5k_splits, train_mnist_5k_cnn


@pytest.mark.quality
def test_mnist_5k_cnn_reaches_97_percent_and_beats_knn():
    torch.set_num_threads(1)  # as the notebook: on 2 shared cores a second thread mostly waits
    splits = mnist_5k_splits()
    model, history = train_mnist_5k_cnn(splits)
    assert history["val_acc"][-1] >= 0.97, f"validation accuracy {history['val_acc'][-1]:.3f} < 0.97"
    test_accuracy = accuracy(model, splits["X_test"], splits["y_test"])
    assert test_accuracy >= 0.97, f"test accuracy {test_accuracy:.3f} < 0.97"
    knn = np.mean(knn_predict(splits["X_train"], splits["y_train"], splits["X_test"], 1) == splits["y_test"])
    assert test_accuracy > knn + 0.02, (test_accuracy, knn)
