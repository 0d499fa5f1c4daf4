"""Chapter 7 quality bar (CPU mode): the learned embedding's 1-NN accuracy on the 1,000 held-out MNIST-5k
test digits is >= 0.93, and the class never seen in training (9) is retrieved by recall@1."""
from __future__ import annotations

import pytest
import torch

from dlcourse import metric_training as mt


@pytest.mark.quality
def test_cpu_recipe_reaches_the_one_nn_bar_and_retrieves_the_unseen_class():
    torch.set_num_threads(1)
    splits = mt.mnist_5k_metric_splits()
    model, history = mt.train_mnist_5k_embedding(splits)  # epoch chosen on validation
    assert max(history["val_acc"]) >= 0.93
    test = mt.evaluate_embedding(model, splits["X_train"], splits["y_train"], splits["X_test"], splits["y_test"],
                                 held_out=splits["held_out"])
    assert test["nn_accuracy"] >= 0.93
    assert test["unseen_recall_at_1"] >= 0.75  # digit 9, never seen: chance would be about 0.1
