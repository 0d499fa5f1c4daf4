"""Tests for dlcourse.perceptron: check values of curriculum.md, hand traces, PyTorch, Novikoff's theorem."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.perceptron import (
    PerceptronHistory,
    TorchPerceptron,
    add_product_feature,
    logic_gate,
    make_separable,
    novikoff_bound,
    perceptron_history,
    perceptron_predict,
    perceptron_train,
    perceptron_train_torch,
    threshold_network_predict,
    with_bias,
)


def test_or_and_and_reach_the_curriculum_check_values():
    X, t = logic_gate("OR")
    w, epochs = perceptron_train(X, t, eta=1.0)
    np.testing.assert_array_equal(w, [0.0, 1.0, 1.0])
    assert epochs == 4
    X, t = logic_gate("AND")
    w, epochs = perceptron_train(X, t, eta=1.0)
    np.testing.assert_array_equal(w, [-2.0, 2.0, 1.0])
    assert epochs == 6


def test_or_history_matches_hand_trace():
    # Hand trace (x0 = 1, order 00, 01, 10, 11, w = 0): epoch 1 misses only 01 -> [1, 0, 1];
    # epoch 2 misses 00 (w.x = 1 > 0, t = -1) -> [0, 0, 1] and 10 (w.x = 0, t = +1) -> [1, 1, 1];
    # epoch 3 misses 00 -> [0, 1, 1]; epoch 4 has no mistake.
    X, t = logic_gate("OR")
    history = perceptron_history(X, t)
    np.testing.assert_array_equal(history.weights, [[0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1]])
    np.testing.assert_array_equal(history.mistakes, [1, 2, 1, 0])
    assert history.converged


def test_epoch_count_includes_the_final_error_free_pass():
    X, t = logic_gate("AND")
    history = perceptron_history(X, t)
    _, epochs = perceptron_train(X, t)
    assert epochs == len(history.mistakes) == 6
    assert history.mistakes[-1] == 0 and np.all(history.mistakes[:-1] > 0)


def test_a_correct_start_takes_exactly_one_epoch():
    X, t = logic_gate("OR")
    w, epochs = perceptron_train(X, t, w_init=[-0.5, 1.0, 1.0])
    np.testing.assert_array_equal(w, [-0.5, 1.0, 1.0])
    assert epochs == 1


def test_neuron_fires_only_when_the_weighted_sum_is_strictly_positive():
    X, _ = logic_gate("OR")
    np.testing.assert_array_equal(perceptron_predict(X, np.zeros(3)), [-1, -1, -1, -1])
    np.testing.assert_array_equal(perceptron_predict(X, [-1.0, 1.0, 1.0]), [-1, -1, -1, 1])


def test_seed_or_weights_compute_and_on_plus_minus_one_inputs():
    # Didoni (2022) gives w0 = -1/2, w1 = w2 = 1 for OR: right for {0, 1} inputs, AND for {-1, +1} inputs.
    w = np.array([-0.5, 1.0, 1.0])
    X01, t_or = logic_gate("OR")
    np.testing.assert_array_equal(perceptron_predict(X01, w), t_or)
    _, t_and = logic_gate("AND")
    np.testing.assert_array_equal(perceptron_predict(2 * X01 - 1, w), t_and)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR", "NOT"])
def test_learned_gate_weights_reproduce_the_truth_table(gate):
    X, t = logic_gate(gate)
    w, epochs = perceptron_train(X, t, max_epochs=50)
    assert epochs < 50
    np.testing.assert_array_equal(perceptron_predict(X, w), t)


def test_gate_truth_tables_are_the_boolean_functions():
    X, t = logic_gate("XOR")
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(t, [-1, 1, 1, -1])
    np.testing.assert_array_equal(logic_gate("NAND")[1], [1, 1, 1, -1])
    np.testing.assert_array_equal(logic_gate("NOT")[1], [1, -1])


def test_xor_never_converges_but_the_product_feature_makes_it_separable():
    X, t = logic_gate("XOR")
    history = perceptron_history(X, t, max_epochs=200)
    assert not history.converged and np.all(history.mistakes > 0)
    # The weights cycle: the same vector comes back, so more epochs cannot help.
    assert len({tuple(w) for w in history.weights}) < len(history.weights) // 2
    lifted = add_product_feature(X)
    np.testing.assert_array_equal(lifted[:, 2], [0, 0, 0, 1])
    w, epochs = perceptron_train(lifted, t, max_epochs=200)
    assert epochs < 200
    np.testing.assert_array_equal(perceptron_predict(lifted, w), t)


def test_two_layer_threshold_network_with_learned_or_and_and_computes_xor():
    X, t_xor = logic_gate("XOR")
    w_or, _ = perceptron_train(*logic_gate("OR"))
    w_and, _ = perceptron_train(*logic_gate("AND"))
    # output fires for (OR = +1, AND = -1): -1 + h_or - h_and > 0
    y = threshold_network_predict(X, np.stack([w_or, w_and]), [-1.0, 1.0, -1.0])
    np.testing.assert_array_equal(y, t_xor)


def test_from_zero_the_learning_rate_only_scales_the_weights():
    # With w = 0 every weight is eta times an integer combination of inputs: the decisions, the
    # epochs and w / eta do not depend on eta.
    X, t, _ = make_separable(60, dim=3, margin=0.1, seed=1)
    w1, e1 = perceptron_train(X, t, eta=1.0, max_epochs=500)
    w2, e2 = perceptron_train(X, t, eta=0.25, max_epochs=500)
    assert e1 == e2 < 500
    np.testing.assert_allclose(w2, 0.25 * w1, rtol=1e-12)


def test_torch_perceptron_matches_numpy_on_gates_and_random_data():
    for gate in ["AND", "OR", "NAND", "NOR", "NOT", "XOR"]:
        X, t = logic_gate(gate)
        w_np, e_np = perceptron_train(X, t, max_epochs=12)
        w_t, e_t = perceptron_train_torch(X, t, max_epochs=12)
        np.testing.assert_array_equal(w_t, w_np)
        assert e_t == e_np
    X, t, _ = make_separable(40, dim=4, margin=0.15, seed=3)
    w_init = np.array([0.5, -1.0, 0.25, 0.0, 1.0])
    w_np, e_np = perceptron_train(X, t, eta=0.5, max_epochs=300, w_init=w_init)
    w_t, e_t = perceptron_train_torch(X, t, eta=0.5, max_epochs=300, w_init=w_init)
    np.testing.assert_allclose(w_t, w_np, rtol=1e-12, atol=1e-12)
    assert e_t == e_np


def test_torch_module_forward_and_sgd_step_give_the_perceptron_rule():
    model = TorchPerceptron(2, w_init=[0.0, 1.0, 1.0])
    X, t = logic_gate("OR")
    np.testing.assert_array_equal(model(torch.from_numpy(X)).numpy(), perceptron_predict(X, [0.0, 1.0, 1.0]))
    # One SGD step on the perceptron criterion -t (w . x) of a misclassified point: w + eta * t * x.
    x, target = torch.tensor([[1.0, 0.0]], dtype=torch.float64), -1.0
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    (-target * model.weighted_sum(x)[0]).backward()
    optimizer.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), [0.0 - 0.5, 1.0 - 0.5, 1.0])


def test_novikoff_bound_on_a_hand_computed_example():
    # Points [1, 0] (t = +1) and [-1, 0] (t = -1); u = [0, 1, 0]: R = sqrt(2), gamma = 1, bound 2.
    radius, gamma, bound = novikoff_bound([[1.0, 0.0], [-1.0, 0.0]], [1, -1], [0.0, 1.0, 0.0])
    assert radius == pytest.approx(np.sqrt(2))
    assert gamma == pytest.approx(1.0)
    assert bound == pytest.approx(2.0)
    with pytest.raises(ValueError, match="does not separate"):
        novikoff_bound([[1.0, 0.0], [-1.0, 0.0]], [1, -1], [0.0, -1.0, 0.0])


def test_make_separable_respects_the_margin_and_the_teacher():
    X, t, u = make_separable(300, dim=3, margin=0.2, seed=0)
    scores = with_bias(X) @ u
    assert X.shape == (300, 3) and np.all(np.abs(X) <= 1)
    assert np.linalg.norm(u) == pytest.approx(1.0)
    assert np.all(np.abs(scores) >= 0.2)
    np.testing.assert_array_equal(t, np.sign(scores))
    assert 0 < np.mean(t > 0) < 1


@pytest.mark.quality
@pytest.mark.parametrize("dim,margin,seed", [(2, 0.05, 0), (2, 0.2, 1), (5, 0.1, 2), (10, 0.1, 3), (20, 0.05, 4)])
def test_perceptron_converges_with_mistakes_within_novikoff_bound(dim, margin, seed):
    X, t, u = make_separable(400, dim=dim, margin=margin, seed=seed)
    history = perceptron_history(X, t, eta=1.0, max_epochs=5000)
    assert history.converged
    np.testing.assert_array_equal(perceptron_predict(X, history.weights[-1]), t)
    _, _, bound = novikoff_bound(X, t, u)
    assert history.mistakes.sum() <= bound


def test_twin_weight_vectors_are_fresh_copies():
    X, t = logic_gate("AND")
    w_init = np.array([0.5, -1.0, 1.0])
    for train in (perceptron_train, perceptron_train_torch):
        w, _ = train(X, t, w_init=w_init)
        np.testing.assert_array_equal(w_init, [0.5, -1.0, 1.0])  # the caller's start is untouched
        w[:] = 7.0
        np.testing.assert_array_equal(w_init, [0.5, -1.0, 1.0])


# ------------------------------------------------------------------ regressions: each failed on the old code


def test_bool_targets_are_refused_not_read_as_plus_one():
    # The old check np.isin(t, (-1, 1)) let True through as +1 and False failed with a wrong message.
    X, t = logic_gate("OR")
    with pytest.raises(ValueError, match="t must hold real numbers"):
        perceptron_train(X, t > 0)
    with pytest.raises(ValueError, match="X must hold real numbers"):
        perceptron_predict(X.astype(bool), np.zeros(3))


def test_nan_weights_are_refused_not_answered_with_minus_one():
    X, _ = logic_gate("OR")
    with pytest.raises(ValueError, match="w must be finite"):
        perceptron_predict(X, [np.nan, 1.0, 1.0])
    with pytest.raises(ValueError, match="w_init must be finite"):
        perceptron_train(X, logic_gate("OR")[1], w_init=[0.0, np.inf, 0.0])
    with pytest.raises(ValueError, match="hidden_weights must be finite"):
        threshold_network_predict(X, [[np.nan, 1.0, 1.0]], [0.0, 1.0])


def test_novikoff_bound_refuses_a_nan_teacher_and_ignores_its_scale():
    X, t = [[1.0, 0.0], [-1.0, 0.0]], [1, -1]
    with pytest.raises(ValueError, match="u must be finite"):
        novikoff_bound(X, t, [np.nan, 1.0, 0.0])  # the old code returned (R, nan, nan)
    for scale in (1e-200, 1.0, 1e200):  # ||u|| under- or overflowed in the old code
        radius, gamma, bound = novikoff_bound(X, t, [0.0, scale, 0.0])
        assert (radius, gamma, bound) == pytest.approx((np.sqrt(2), 1.0, 2.0))


def test_an_overflowing_weighted_sum_is_an_error_not_a_silent_minus_one():
    with pytest.raises(ValueError, match="overflowed"):
        perceptron_predict([[1e300, -1e300]], [0.0, 1e300, 1e300])  # inf - inf = nan: the old answer was -1


def test_gate_error_names_the_parameter_it_has():
    with pytest.raises(ValueError, match="^name must be one of"):
        logic_gate("XNOR")


def test_counts_and_rates_must_be_numbers_not_bools_or_fractions():
    X, t = logic_gate("OR")
    for kwargs in ({"eta": True}, {"max_epochs": True}, {"max_epochs": 2.5}, {"eta": "1"}):
        with pytest.raises(ValueError, match="eta|max_epochs"):
            perceptron_train(X, t, **kwargs)  # True was eta = 1; 2.5 epochs ran int(2.5) = 2 or crashed


def test_threshold_network_checks_the_output_weights_and_the_hidden_count():
    X, _ = logic_gate("XOR")
    with pytest.raises(ValueError, match=r"output_weights must have shape \(3,\)"):
        threshold_network_predict(X, np.zeros((2, 3)), [0.0, 1.0])
    with pytest.raises(ValueError, match="J >= 1"):
        threshold_network_predict(X, np.zeros((0, 3)), [0.0])  # old: numpy's "need at least one array"


def test_torch_perceptron_takes_float32_tensors_and_arrays_and_checks_widths():
    model = TorchPerceptron(2, w_init=[-0.5, 1.0, 1.0])
    X, t_or = logic_gate("OR")
    for x in (torch.tensor(X, dtype=torch.float32), X.tolist(), np.asfortranarray(X)):
        np.testing.assert_array_equal(model(x).numpy(), t_or)  # float32 raised a dtype RuntimeError
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        model(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="x must be finite"):
        model(torch.tensor([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="x must hold real numbers"):
        model(torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_inputs must be an integer >= 1"):
        TorchPerceptron(-1)  # old: torch's RuntimeError about a negative dimension


def test_perceptron_history_checks_its_fields():
    with pytest.raises(ValueError, match="one row more"):
        PerceptronHistory(np.zeros((2, 3)), np.array([1, 0]))
    with pytest.raises(ValueError, match="mistakes must hold integers"):
        PerceptronHistory(np.zeros((3, 3)), np.array([1.5, 0.0]))
    assert PerceptronHistory(np.zeros((3, 3)), [2, 0]).converged


# ------------------------------------------------------------------ every public function: bad input -> ValueError

_X, _T = logic_gate("OR")
_BAD_CALLS = [
    (lambda: perceptron_train([[0, 1], [1, 0]], [1, 0]), "only -1 and \\+1"),
    (lambda: perceptron_train([[0, 1], [1, 0]], [1.0, 0.5]), "only -1 and \\+1"),
    (lambda: perceptron_train([[0, 1], [1, 0]], [1, -1, 1]), "shape \\(2,\\)"),
    (lambda: perceptron_train([0, 1, 1], [1, -1, 1]), "shape \\(N, I\\)"),
    (lambda: perceptron_train(np.zeros((0, 2)), []), "shape \\(N, I\\)"),
    (lambda: perceptron_train([[0, 1]], [1], eta=0.0), "eta must be a finite number > 0"),
    (lambda: perceptron_train([[0, 1]], [1], eta=-1.0), "eta must be"),
    (lambda: perceptron_train([[0, 1]], [1], eta=np.nan), "eta must be"),
    (lambda: perceptron_train([[0, 1]], [1], max_epochs=0), "max_epochs"),
    (lambda: perceptron_train([[0, 1]], [1], w_init=[0.0, 1.0]), "shape \\(3,\\)"),
    (lambda: perceptron_train([["a", "b"]], [1]), "X must hold real numbers"),
    (lambda: perceptron_train([[0, np.nan]], [1]), "X must be finite"),
    (lambda: perceptron_history(_X, _T, max_epochs=-3), "max_epochs"),
    (lambda: perceptron_history(_X, _T > 0), "t must hold real numbers"),
    (lambda: perceptron_predict([[0, 1]], [1.0, 2.0]), "shape \\(3,\\)"),
    (lambda: perceptron_predict([[0, 1]], None), "w must be an array"),
    (lambda: with_bias([[1, 2], [3]]), "X must be an array"),
    (lambda: with_bias(np.ones((2, 2), dtype=complex)), "X must hold real numbers"),
    (lambda: logic_gate("XNOR"), "name must be one of"),
    (lambda: logic_gate(["AND"]), "name must be one of"),
    (lambda: add_product_feature([[0, 1, 1]]), "shape \\(N, 2\\)"),
    (lambda: add_product_feature([[0, np.inf]]), "X must be finite"),
    (lambda: novikoff_bound(_X, _T, np.zeros(3)), "non-zero"),
    (lambda: novikoff_bound(_X, _T, [0.0, 1.0]), "u must have shape \\(3,\\)"),
    (lambda: novikoff_bound(_X, _T[:3], [0.0, 1.0, 1.0]), "shape \\(4,\\)"),
    (lambda: make_separable(0), "n must be an integer >= 1"),
    (lambda: make_separable(10.5), "n must be an integer >= 1"),
    (lambda: make_separable(10, dim=0), "dim must be"),
    (lambda: make_separable(10, margin=1.0), "margin must be"),
    (lambda: make_separable(10, margin=-0.1), "margin must be"),
    (lambda: make_separable(10, margin=np.nan), "margin must be"),
    (lambda: make_separable(10, seed=-1), "seed must be"),
    (lambda: make_separable(10, seed=1.5), "seed must be"),
    (lambda: threshold_network_predict(_X, np.zeros(3), [0.0, 1.0]), "hidden_weights must have shape"),
    (lambda: threshold_network_predict(_X, np.zeros((1, 4)), [0.0, 1.0]), "hidden_weights must have shape"),
    (lambda: TorchPerceptron(2.0), "n_inputs"),
    (lambda: TorchPerceptron(2, w_init=[0.0, 1.0]), "w_init must have shape \\(3,\\)"),
    (lambda: TorchPerceptron(2).weighted_sum(np.zeros((1, 3))), "x must have shape"),
    (lambda: perceptron_train_torch(_X, _T, eta=-1.0), "eta must be"),
    (lambda: perceptron_train_torch(_X, _T.astype(bool)), "t must hold real numbers"),
]


@pytest.mark.parametrize("call, message", _BAD_CALLS)
def test_invalid_inputs_raise_value_errors_naming_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_BAD_TRAINING_ARGS = [
    dict(X=[[0.0, 1.0]], t=[2]),
    dict(X=[[0.0, 1.0]], t=[True]),
    dict(X=[[0.0, np.nan]], t=[1]),
    dict(X=np.zeros((1, 2), dtype=bool), t=[1]),
    dict(X=[[0.0, 1.0]], t=[1], eta=0),
    dict(X=[[0.0, 1.0]], t=[1], max_epochs=1.0),
    dict(X=[[0.0, 1.0]], t=[1], w_init=[1.0, 2.0, np.inf]),
    dict(X=[[0.0, 1.0]], t=[1], w_init=np.zeros(3, dtype=bool)),
    dict(X=[[0.0, 1.0]], t=[[1]]),
]


@pytest.mark.parametrize("kwargs", _BAD_TRAINING_ARGS)
def test_numpy_and_torch_twins_reject_the_same_inputs_with_the_same_message(kwargs):
    messages = []
    for train in (perceptron_train, perceptron_train_torch):
        with pytest.raises(ValueError) as info:
            train(**kwargs)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
