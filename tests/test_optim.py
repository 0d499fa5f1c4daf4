"""The from-scratch optimisers against torch.optim, step by step in float64, and the schedules and clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcourse import optim

STEPS = 60


def _torch_trajectory(torch_cls, kwargs, params0, grad_fn, steps=STEPS):
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params0]
    opt = torch_cls(tensors, **kwargs)
    out = []
    for t in range(steps):
        grads = grad_fn([x.detach().numpy() for x in tensors], t)
        for x, g in zip(tensors, grads):
            x.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append([x.detach().numpy().copy() for x in tensors])
    return out


def _ours_trajectory(cls, kwargs, params0, grad_fn, steps=STEPS):
    opt = cls([p.copy() for p in params0], **kwargs)
    out = []
    for t in range(steps):
        opt.step(grad_fn([p.copy() for p in opt.params], t))
        out.append([p.copy() for p in opt.params])
    return out


def _grad_fn(params, t):
    """A non-convex, time-varying gradient: sin of the parameters plus a drifting noise term."""
    rng = np.random.default_rng(t)
    return [np.sin(3 * p) + 0.5 * p + rng.normal(size=p.shape) for p in params]


CASES = [
    (optim.SGD, torch.optim.SGD, {"lr": 0.05}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.03, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.02}),
    (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.01}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.3}),
]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_optimizer_matches_torch_step_by_step_over_many_steps(ours, theirs, kwargs):
    rng = np.random.default_rng(1)
    params0 = [rng.normal(size=(3, 4)), rng.normal(size=5), np.array(0.7)]
    a = _ours_trajectory(ours, kwargs, params0, _grad_fn)
    b = _torch_trajectory(theirs, kwargs, params0, _grad_fn)
    for step, (pa, pb) in enumerate(zip(a, b)):
        for x, y in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10, err_msg=f"step {step + 1}")


def test_adam_without_bias_correction_would_differ_from_torch():
    """The check above can fail: the first Adam step without bias correction is (1 - b1)/sqrt(1 - b2) off."""
    p0 = [np.array([1.0, -2.0])]
    ours = _ours_trajectory(optim.Adam, {"lr": 0.1}, p0, _grad_fn, steps=1)[0][0]
    g = _grad_fn(p0, 0)[0]
    m, v = 0.1 * g, 0.001 * g * g
    uncorrected = p0[0] - 0.1 * m / (np.sqrt(v) + 1e-8)
    corrected = p0[0] - 0.1 * np.sign(g) * np.abs(g) / (np.abs(g) + 1e-8)  # first step: -lr sign(g)
    np.testing.assert_allclose(ours, corrected, rtol=1e-9)
    assert np.abs(ours - uncorrected).max() > 0.05


def test_adamw_decay_is_decoupled_from_the_moments():
    """With g = 0 AdamW still shrinks theta by (1 - lr lambda) each step; Adam's L2 moves it by about lr."""
    zero = lambda params, t: [np.zeros_like(p) for p in params]  # noqa: E731
    w = _ours_trajectory(optim.AdamW, {"lr": 0.1, "weight_decay": 0.5}, [np.array([2.0])], zero, steps=3)
    np.testing.assert_allclose(w[-1][0], 2.0 * 0.95**3, rtol=1e-12)
    a = _ours_trajectory(optim.Adam, {"lr": 0.1, "weight_decay": 0.5}, [np.array([2.0])], zero, steps=1)
    np.testing.assert_allclose(a[0][0], 2.0 - 0.1, rtol=1e-6)  # the L2 gradient, normalised to a step of lr


def test_nesterov_sutskever_is_torchs_nesterov_after_the_change_of_variables():
    A = np.array([[3.0, 0.5], [0.5, 0.2]])
    grad = lambda x: A @ x - np.array([1.0, -1.0])  # noqa: E731
    lr, mu, x0 = 0.1, 0.9, np.array([2.0, -3.0])
    thetas, vs = optim.nesterov_sutskever(grad, x0, lr, mu, STEPS)
    torch_path = _torch_trajectory(torch.optim.SGD, {"lr": lr, "momentum": mu, "nesterov": True}, [x0],
                                   lambda p, t: [grad(p[0])])
    for t in range(1, STEPS + 1):
        np.testing.assert_allclose(thetas[t] + mu * vs[t], torch_path[t - 1][0], rtol=1e-10, atol=1e-12)
    assert np.abs(thetas[5] - torch_path[4][0]).max() > 1e-3  # the raw iterates are different points


def test_optimise_path_converges_on_a_quadratic_and_stops_when_it_diverges():
    grad = lambda x: np.array([1.0, 25.0]) * x  # noqa: E731
    path = optim.optimise_path("momentum", grad, [1.0, 1.0], lr=0.03, steps=300)
    assert path.shape == (301, 2) and np.abs(path[-1]).max() < 1e-6
    exploding = optim.optimise_path("sgd", grad, [1.0, 1.0], lr=1.0, steps=500)
    assert len(exploding) < 501 and np.all(np.isfinite(exploding))


def test_make_optimizer_names_and_momentum_default():
    opt = optim.make_optimizer("nesterov", [np.zeros(2)], lr=0.1)
    assert isinstance(opt, optim.SGD) and opt.nesterov and opt.momentum == 0.9
    assert isinstance(optim.make_optimizer("adamw", [np.zeros(2)], lr=0.1), optim.AdamW)


@pytest.mark.parametrize("kind, torch_scheduler, kwargs", [
    ("step", torch.optim.lr_scheduler.StepLR, {"step_size": 7, "gamma": 0.5}),
    ("exponential", torch.optim.lr_scheduler.ExponentialLR, {"gamma": 0.9}),
    ("cosine", torch.optim.lr_scheduler.CosineAnnealingLR, {"T_max": 30, "eta_min": 0.001}),
])
def test_lr_schedule_matches_torch_schedulers(kind, torch_scheduler, kwargs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch_scheduler(opt, **kwargs)
    ours_kwargs = {"cosine": {"total": 30, "eta_min": 0.001}}.get(kind, kwargs)
    for epoch in range(30):
        assert math.isclose(optim.lr_schedule(kind, 0.1, epoch, **ours_kwargs), opt.param_groups[0]["lr"],
                            rel_tol=1e-10, abs_tol=1e-14), epoch
        opt.step()
        scheduler.step()


def test_clip_by_norm_worked_value_and_direction():
    np.testing.assert_allclose(optim.clip_by_norm([3.0, 4.0], 1.0), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(optim.clip_by_norm([0.3, 0.4], 1.0), [0.3, 0.4])  # short enough: unchanged
    np.testing.assert_array_equal(optim.clip_by_norm([0.0, 0.0], 1.0), [0.0, 0.0])


def test_global_clipping_matches_torch_clip_grad_norm():
    rng = np.random.default_rng(3)
    grads = [5 * rng.normal(size=(4, 3)), rng.normal(size=7)]
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    norm = torch.nn.utils.clip_grad_norm_(tensors, 2.0)
    clipped, ours_norm = optim.clip_grads_by_global_norm(grads, 2.0)
    assert math.isclose(ours_norm, float(norm), rel_tol=1e-12)
    for c, t in zip(clipped, tensors):
        np.testing.assert_allclose(c, t.grad.numpy(), rtol=1e-6)  # torch divides by norm + 1e-6


BAD = [
    (lambda: optim.SGD(np.zeros(3), lr=0.1), "list or tuple"),
    (lambda: optim.SGD([], lr=0.1), "at least one"),
    (lambda: optim.SGD([np.zeros(2)], lr=-1.0), "lr"),
    (lambda: optim.SGD([np.zeros(2)], lr=True), "lr"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1, momentum=1.0), "momentum"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1, nesterov=True), "nesterov"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1, nesterov=1), "nesterov"),
    (lambda: optim.SGD([np.array([np.nan])], lr=0.1), "finite"),
    (lambda: optim.SGD([np.array([True])], lr=0.1), "dtype bool"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1).step([np.zeros(3)]), "shape"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1).step([np.zeros(2), np.zeros(2)]), "one per parameter"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1).step([np.array([np.inf, 0.0])]), "finite"),
    (lambda: optim.Adam([np.zeros(2)], betas=0.9), "betas"),
    (lambda: optim.Adam([np.zeros(2)], betas=(0.9, 1.5)), "betas"),
    (lambda: optim.RMSprop([np.zeros(2)], centered="yes"), "centered"),
    (lambda: optim.make_optimizer("lbfgs", [np.zeros(2)], lr=0.1), "name"),
    (lambda: optim.optimise_path("sgd", lambda x: x, np.zeros((2, 2)), 0.1, 5), "1-dimensional"),
    (lambda: optim.optimise_path("sgd", lambda x: x, [1.0], 0.1, 0), "steps"),
    (lambda: optim.nesterov_sutskever(lambda x: x, [1.0], 0.1, 1.2, 5), "momentum"),
    (lambda: optim.lr_schedule("warm", 0.1, 0), "kind"),
    (lambda: optim.lr_schedule("step", 0.1, -1), "epoch"),
    (lambda: optim.lr_schedule("step", 0.1, 2.5), "epoch"),
    (lambda: optim.lr_schedule("cosine", 0.1, 3, total=0), "total"),
    (lambda: optim.clip_by_norm([3.0, 4.0], 0.0), "max_norm"),
    (lambda: optim.clip_by_norm("34", 1.0), "g must"),
    (lambda: optim.clip_by_norm([np.nan], 1.0), "finite"),
    (lambda: optim.clip_grads_by_global_norm(np.zeros(3), 1.0), "list or tuple"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
