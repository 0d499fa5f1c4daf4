"""Property-based tests of training loops, schedules and data helpers against direct computations.

Random batch sizes (batch of one included), class counts (one logit included), target shapes and
dtypes, memory layouts and schedule settings.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from dlcourse.mlp_training import SCHEDULES, learning_rate, minibatch_indices, mnist_as_vectors, train_numpy_mlp
from dlcourse.training import evaluate, make_loader


@st.composite
def classifiers(draw):
    n, k, d = draw(st.integers(1, 25)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    return nn.Linear(d, k), torch.randn(n, d), n, k


@settings(max_examples=40, deadline=None)
@given(case=classifiers(), batch_size=st.integers(1, 30), label_shape=st.sampled_from(["(N,)", "(N, 1)"]),
       as_float=st.booleans())
def test_evaluate_accuracy_equals_a_direct_count_for_any_batching(case, batch_size, label_shape, as_float):
    model, X, n, k = case
    y = torch.randint(0, max(k, 2), (n,))
    with torch.no_grad():
        scores = model(X)
    predicted = (scores[:, 0] > 0).long() if k == 1 else scores.argmax(dim=1)
    expected = (predicted == y).sum().item() / n
    target = y.reshape(n, 1) if label_shape == "(N, 1)" else y
    target = target.float() if as_float else target
    if k >= 2 and (label_shape == "(N, 1)" or as_float):
        if as_float:  # float targets with K scores: soft or multi-label, accuracy undefined
            assert math.isnan(evaluate(model, (X, target), batch_size=batch_size, device="cpu")[1])
        else:
            with pytest.raises(ValueError, match="integer labels must have shape"):
                evaluate(model, (X, target), batch_size=batch_size, device="cpu")
        return
    _, acc = evaluate(model, (X, target), batch_size=batch_size, device="cpu")
    assert 0.0 <= acc <= 1.0
    assert acc == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(case=classifiers(), batch_size=st.integers(1, 30))
def test_evaluate_loss_is_the_mean_over_examples_for_any_batching(case, batch_size):
    model, X, n, k = case
    if k == 1:
        y, loss_fn = torch.randint(0, 2, (n, 1)).float(), nn.BCEWithLogitsLoss()
    else:
        y, loss_fn = torch.randint(0, k, (n,)), nn.CrossEntropyLoss()
    loss, _ = evaluate(model, (X, y), loss_fn, batch_size=batch_size, device="cpu")
    with torch.no_grad():
        assert loss == pytest.approx(loss_fn(model(X), y).item(), rel=1e-5)


@st.composite
def schedules(draw):
    total = draw(st.integers(1, 500))
    lr0 = draw(st.floats(1e-6, 10.0))
    return dict(schedule=draw(st.sampled_from(SCHEDULES)), total_steps=total, lr0=lr0,
                gamma=draw(st.floats(0.01, 1.0)), n_drops=draw(st.integers(0, 10)),
                final_ratio=draw(st.floats(1e-4, 1.0)), lr_min=draw(st.floats(0.0, 1.0)) * lr0)


@settings(max_examples=60, deadline=None)
@given(setting=schedules())
def test_every_schedule_starts_at_lr0_and_decays_monotonically_within_its_bounds(setting):
    total = setting.pop("total_steps")
    rates = np.array([learning_rate(step=k, total_steps=total, **setting) for k in range(total + 1)])
    assert rates[0] == pytest.approx(setting["lr0"], rel=1e-12)
    assert np.all(np.diff(rates) <= 1e-15 * setting["lr0"])
    drops = math.floor(total / math.ceil(total / (setting["n_drops"] + 1)))  # drops by the last step T
    floor = {"constant": setting["lr0"], "cosine": setting["lr_min"],
             "exponential": setting["lr0"] * setting["final_ratio"], "step": setting["lr0"] * setting["gamma"] ** drops}
    assert rates[-1] == pytest.approx(floor[setting["schedule"]], rel=1e-9, abs=1e-300)
    assert np.all(rates > 0) or setting["schedule"] == "cosine"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), batch_size=st.integers(1, 250), seed=st.integers(0, 2**16))
def test_minibatches_partition_the_indices_into_ceil_n_over_b_batches(n, batch_size, seed):
    batches = minibatch_indices(n, batch_size, np.random.default_rng(seed))
    assert len(batches) == math.ceil(n / batch_size)
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))


@settings(max_examples=30, deadline=None)
@given(images=hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), st.just(28), st.just(28))),
       layout=st.sampled_from(["C", "F", "transposed"]), dtype=st.sampled_from([np.uint8, np.int32, np.int64]))
def test_mnist_as_vectors_is_the_exact_division_by_255_in_any_layout(images, layout, dtype):
    shown = images.astype(dtype)
    shown = {"C": shown, "F": np.asfortranarray(shown),
             "transposed": np.ascontiguousarray(shown.transpose(0, 2, 1)).transpose(0, 2, 1)}[layout]
    vectors = mnist_as_vectors(shown)
    assert vectors.dtype == np.float32 and vectors.shape == (len(images), 784)
    np.testing.assert_array_equal(vectors, images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
    assert vectors.min() >= 0 and vectors.max() <= 1


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), d=st.integers(1, 4), batch_size=st.integers(1, 25),
       x_dtype=st.sampled_from([np.float32, np.float64, np.int64]), y_float=st.booleans())
def test_make_loader_keeps_every_example_once_with_the_documented_dtypes(n, d, batch_size, x_dtype, y_float):
    X = np.asfortranarray(np.arange(n * d).reshape(n, d).astype(x_dtype))
    y = np.arange(n).astype(float) if y_float else np.arange(n)
    batches = list(make_loader(X, y, batch_size=batch_size, shuffle=True, seed=3))
    xs, ys = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert xs.dtype == (torch.int64 if x_dtype == np.int64 else torch.float32)
    assert ys.dtype == (torch.float32 if y_float else torch.int64)
    order = ys.long().numpy()
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(xs.numpy(), X[order])  # rows stay paired with their labels


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 12), batch_size=st.integers(1, 15), seed=st.integers(0, 100))
def test_train_numpy_mlp_steps_and_batch_of_one_follow_the_epoch_arithmetic(n, batch_size, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, 2)), rng.integers(0, 2, size=n)
    params, history = train_numpy_mlp(np.asfortranarray(X), y, [2, 3, 2], epochs=2, batch_size=batch_size, lr=0.1,
                                      seed=seed, X_val=X, y_val=y)
    assert len(history["step_loss"]) == 2 * math.ceil(n / batch_size)
    assert all(0.0 <= a <= 1.0 for a in history["val_acc"])
    again, _ = train_numpy_mlp(X, y, [2, 3, 2], epochs=2, batch_size=batch_size, lr=0.1, seed=seed)
    for (W, b), (W2, b2) in zip(params, again):  # the layout of X changes nothing
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
