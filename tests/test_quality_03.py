"""Chapter 3 quality bars on MNIST-5k in CPU mode, with the chapter's protocol: 3,000 images to train,
1,000 to validate (where the chapter chose the setting used here), the 1,000 test images touched once.

Bars: the regularised MLP (batch norm + dropout, the setting chosen on validation) reaches >= 93.5%
test accuracy and a smaller train-validation gap than the same MLP without regularisation; a 20-layer
residual tanh MLP trains to a lower training loss than the plain one in the same 5 epochs.
"""
import numpy as np
import pytest
import torch

from dlcourse.data import load_mnist_5k, stratified_split
from dlcourse.deep_training import DeepMLP, make_mlp, train_model
from dlcourse.training import evaluate


@pytest.fixture(scope="module")
def splits():
    X_pool, y_pool, X_test, y_test = load_mnist_5k(test_size=1000, seed=0)
    train, val = stratified_split(y_pool, test_size=1000, seed=0)
    return (X_pool[train], y_pool[train]), (X_pool[val], y_pool[val]), (X_test, y_test)


def _fit(train, val, **options):
    torch.manual_seed(0)
    X = train[0]
    model = make_mlp((256, 256), mean=float(X.mean()), std=float(X.std()), **options)
    history = train_model(model, train, val, epochs=20, lr=0.02)
    return model, history


@pytest.mark.quality
def test_batchnorm_dropout_mlp_reaches_93_5_percent_and_narrows_the_gap(splits):
    train, val, test = splits
    model, history = _fit(train, val, batchnorm=True, keep_prob=0.5)
    plain, plain_history = _fit(train, val)
    gap = evaluate(model, train)[1] - history.val_acc[-1]
    plain_gap = evaluate(plain, train)[1] - plain_history.val_acc[-1]
    assert gap < plain_gap, f"regularised gap {gap:.3f} not below plain gap {plain_gap:.3f}"
    assert history.val_acc[-1] >= 0.93, f"validation accuracy {history.val_acc[-1]:.3f} < 0.93"
    _, test_accuracy = evaluate(model, test)
    assert test_accuracy >= 0.935, f"test accuracy {test_accuracy:.3f} < 0.935"


@pytest.mark.quality
def test_residual_20_layer_mlp_trains_further_than_the_plain_one(splits):
    train, val, _ = splits
    losses = {}
    for residual in (False, True):
        torch.manual_seed(0)
        history = train_model(DeepMLP(20, 64, "tanh", residual), train, val, epochs=5, lr=0.05, optimizer="sgd")
        losses[residual] = history.train_loss[-1]
    assert losses[True] < 0.6 * losses[False], losses
    assert np.isfinite(list(losses.values())).all()
