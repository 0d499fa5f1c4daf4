"""Chapter 7's training code: shared weights, P x K batches, the loop at tiny size, the GPU recipe's path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import metric_learning as ml
from dlcourse import metric_training as mt

RNG = np.random.default_rng(0)


def test_siamese_branches_share_one_set_of_weights_and_add_their_gradients():
    torch.manual_seed(0)
    embedding = torch.nn.Linear(4, 2).double()
    net = Siamese = mt.Siamese(embedding)
    assert sum(p.numel() for p in Siamese.parameters()) == 4 * 2 + 2  # one copy, not two
    x1, x2 = torch.tensor(RNG.normal(size=(3, 4))), torch.tensor(RNG.normal(size=(3, 4)))
    z1, z2 = net(x1, x2)
    (z1.sum() + 2 * z2.sum()).backward()
    expected = (x1.sum(0) + 2 * x2.sum(0)).expand(2, 4)  # d/dW of sum(W x) over both branches
    np.testing.assert_allclose(embedding.weight.grad.numpy(), expected.numpy(), atol=1e-12)
    z1_again, = net(x1)
    np.testing.assert_allclose(z1_again.detach().numpy(), z1.detach().numpy())


def test_embedding_net_returns_unit_vectors():
    torch.manual_seed(0)
    model = mt.embedding_net(dim=5, width=2).eval()
    z = model(torch.rand(3, 1, 28, 28))
    assert z.shape == (3, 5)
    np.testing.assert_allclose(z.norm(dim=1).detach().numpy(), 1.0, atol=1e-6)


def test_pk_batches_hold_k_images_of_p_distinct_classes():
    labels = np.repeat(np.arange(5), [10, 10, 10, 10, 3])  # class 4 has fewer than K = 4
    batches = mt.pk_batches(labels, 3, 4, np.random.default_rng(1))
    assert len(batches) == len(labels) // 12
    for batch in batches:
        classes, counts = np.unique(labels[batch], return_counts=True)
        assert len(classes) == 3 and np.all(counts == 4) and 4 not in classes
        assert len(set(batch.tolist())) == 12
    again = mt.pk_batches(labels, 3, 4, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_nn_accuracy_against_a_direct_loop():
    Zg, yg, Zq, yq = RNG.normal(size=(20, 3)), RNG.integers(0, 3, 20), RNG.normal(size=(7, 3)), RNG.integers(0, 3, 7)
    nearest = [int(np.argmin(np.linalg.norm(Zg - z, axis=1))) for z in Zq]
    assert mt.nn_accuracy(Zg, yg, Zq, yq) == pytest.approx(np.mean(yg[nearest] == yq))
    assert mt.nn_accuracy(Zg, yg, Zq, yq, chunk=2) == mt.nn_accuracy(Zg, yg, Zq, yq)


def _tiny_digits(n_per_class=12, classes=4, seed=0):
    """Separable fake digits: class c lights up a c-th block of rows."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.2, size=(n_per_class * classes, 28, 28))
    y = np.repeat(np.arange(classes), n_per_class)
    for i, c in enumerate(y):
        X[i, 7 * c:7 * c + 7] += 0.8
    return X.reshape(len(X), -1).clip(0, 1), y


@pytest.mark.parametrize("loss", mt.LOSSES)
def test_training_learns_a_separating_embedding_and_keeps_the_best_validation_epoch(loss):
    X, y = _tiny_digits(16)
    Xv, yv = _tiny_digits(4, seed=1)
    model, history = mt.train_embedding(X, y, Xv, yv, loss=loss, epochs=5, width=2, dim=4,
                                        classes_per_batch=4, per_class=4, seed=0)
    assert len(history["val_acc"]) == 5 and history["best_epoch"] == int(np.argmax(history["val_acc"])) + 1
    assert mt.nn_accuracy(mt.embed(model, X), y, mt.embed(model, Xv), yv) == max(history["val_acc"])
    assert max(history["val_acc"]) >= 0.8  # chance: 0.25


def test_evaluate_embedding_excludes_each_query_from_its_own_retrieval():
    X, y = _tiny_digits(6)
    torch.manual_seed(0)
    model = mt.embedding_net(4, 2)
    result = mt.evaluate_embedding(model, X, y, X, y, held_out=3)
    Z = mt.embed(model, X)
    D = ml.pairwise_distances(Z[y == 3], Z)
    D[np.arange(len(D)), np.flatnonzero(y == 3)] = np.inf
    assert result["unseen_recall_at_1"] == pytest.approx(ml.recall_at_k(D, y[y == 3], y, 1))
    assert result["nn_accuracy"] == 1.0  # every query finds itself in the gallery


def test_gpu_recipe_runs_tiny_on_the_cpu_and_reports_its_metric():
    result = mt.gpu_metric_full_mnist("cpu", tiny=True)
    assert result["bar"] == 0.99 and 0.0 <= result["test_accuracy"] <= 1.0 and result["seconds"] > 0
    assert "07_metric_learning.embedding_full_mnist" in mt.GPU_RECIPES


_X, _Y = _tiny_digits(8, 3)
TABLE = {
    "L2Normalize": (mt.L2Normalize, {}, {}),
    "embedding_net": (mt.embedding_net, {"dim": 4, "width": 2}, {"dim": [0, 2.5], "width": [-1, True]}),
    "Siamese": (mt.Siamese, {"embedding": torch.nn.Identity()}, {"embedding": [lambda x: x, None]}),
    "pk_batches": (mt.pk_batches, {"labels": _Y, "classes_per_batch": 3, "per_class": 4,
                                   "rng": np.random.default_rng(0)},
                   {"labels": [_Y * 0.5, np.array([], int)], "classes_per_batch": [4, 0],
                    "per_class": [9], "rng": [0]}),
    "embed": (mt.embed, {"model": mt.embedding_net(4, 2), "X": _X[:2]}, {"X": [_X[:2] * 3, _X[:2, :10]]}),
    "nn_accuracy": (mt.nn_accuracy, {"Z_gallery": _X, "y_gallery": _Y, "Z_query": _X[:3], "y_query": _Y[:3]},
                    {"y_gallery": [_Y[:3]], "Z_query": [_X[:3, :5]], "y_query": [_Y[:2]], "chunk": [0]}),
    "train_embedding": (mt.train_embedding, {"X_train": _X, "y_train": _Y, "epochs": 1, "width": 2,
                                             "classes_per_batch": 3, "per_class": 4},
                        {"loss": ["hinge"], "epochs": [0], "margin": [-1.0], "lr": [0.0],
                         "X_val": [_X[:3]], "X_gallery": [_X], "X_train": [_X - 1]}),
    "mnist_5k_metric_splits": (mt.mnist_5k_metric_splits, {"held_out": 3}, {"held_out": [10, -1, 2.0]}),
    "train_mnist_5k_embedding": (mt.train_mnist_5k_embedding,
                                 {"splits": {"X_train": _X, "y_train": _Y, "X_val": _X[:4], "y_val": _Y[:4],
                                             "seen": np.flatnonzero(_Y != 2)},
                                  "epochs": 1, "width": 2, "classes_per_batch": 2, "per_class": 4},
                                 {"loss": ["pairs"], "epochs": [-1]}),
    "evaluate_embedding": (mt.evaluate_embedding, {"model": mt.embedding_net(4, 2), "X_gallery": _X,
                                                   "y_gallery": _Y, "X_query": _X, "y_query": _Y, "held_out": 2},
                           {"held_out": [7, 11], "y_query": [_Y[:2]]}),
    "gpu_metric_full_mnist": (mt.gpu_metric_full_mnist, {"device": "cpu", "tiny": True},
                              {"tiny": [1], "offline": ["no"]}),
}
globals().update(table_tests(TABLE, [mt]))
