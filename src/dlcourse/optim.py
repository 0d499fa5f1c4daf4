"""Gradient-descent optimisers from scratch, step for step the same as ``torch.optim``.

Each optimiser keeps its own float64 copies of the parameters (``opt.params``, a list of arrays) and
updates them in place on ``opt.step(grads)``, where ``grads`` has one gradient per parameter, of the
same shape. The update rules are PyTorch's (its documentation writes them as pseudo-code), so
``SGD``, ``Adagrad``, ``RMSprop``, ``Adam`` and ``AdamW`` agree with ``torch.optim`` to rounding over
any number of steps. Notation: parameters theta, gradient g_t, learning rate eta, step t = 1, 2, ...

Nesterov's momentum has two conventions. PyTorch's ``nesterov=True`` (and :class:`SGD` here) evaluates
the gradient at the current parameters p_t:

    b_t = mu b_{t-1} + g(p_t),   p_{t+1} = p_t - eta (g(p_t) + mu b_t).

Sutskever et al. (2013), the form of Barcelo Ordinas et al. (2024), evaluate it at a look-ahead point:

    v_{t+1} = mu v_t - eta g(theta_t + mu v_t),   theta_{t+1} = theta_t + v_{t+1}.

They are the same method in different variables: p_t = theta_t + mu v_t and b_t = -v_{t+1} / eta
(:func:`nesterov_sutskever` computes the second form; the tests check the identity against torch).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .validation import (as_float_array, check_float, check_int, check_non_negative, check_positive,
                         check_positive_int)

# ---------------------------------------------------------------- the common machinery


def _as_list(values, name: str) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) or np.isscalar(values) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be a list or tuple of arrays, got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one array, got an empty {type(values).__name__}")
    return [as_float_array(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _check_beta(value, name: str) -> float:
    return check_float(value, name, minimum=0.0, maximum=1.0, strict_maximum=True)


class Optimizer:
    """Base class: holds float64 copies of the parameters and the per-parameter state; ``step`` updates.

    ``params``: a list of arrays (copied); ``lr`` may be changed between steps (a schedule does so).
    """

    def __init__(self, params: Sequence, lr: float, weight_decay: float = 0.0) -> None:
        self.params = _as_list(params, "params")
        self.lr = lr
        self.weight_decay = check_non_negative(weight_decay, "weight_decay")
        self.state: list[dict] = [{} for _ in self.params]
        self.t = 0

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_positive(value, "lr")

    def step(self, grads: Sequence) -> list[np.ndarray]:
        """Apply one update with ``grads`` (one array per parameter, same shapes); return the parameters."""
        grads = _as_list(grads, "grads")
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold {len(self.params)} arrays (one per parameter), got {len(grads)}")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g.shape != p.shape:
                raise ValueError(f"grads[{i}] must have the shape of params[{i}], {p.shape}, got {g.shape}")
        self.t += 1
        for p, g, state in zip(self.params, grads, self.state):
            self._update(p, g, state)
        return self.params

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball or Nesterov) momentum, as ``torch.optim.SGD``.

    g <- g + lambda theta (L2 weight decay); b_t = mu b_{t-1} + (1 - tau) g (b_1 = g);
    direction d = g + mu b_t (Nesterov) or b_t (heavy ball) or g (mu = 0); theta <- theta - eta d.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = _check_beta(momentum, "momentum")
        self.dampening = _check_beta(dampening, "dampening")
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0 (as in torch.optim.SGD)")
        self.nesterov = nesterov

    def _update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            if "buf" not in state:
                state["buf"] = g.copy()
            else:
                state["buf"] = self.momentum * state["buf"] + (1.0 - self.dampening) * g
            g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
        p -= self.lr * g


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), as ``torch.optim.Adagrad``: a per-coordinate step from the sum of g^2.

    s_t = s_{t-1} + g^2;  theta <- theta - eta_t g / (sqrt(s_t) + eps),  eta_t = eta / (1 + (t-1) decay).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, lr, weight_decay)
        self.lr_decay, self.eps = check_non_negative(lr_decay, "lr_decay"), check_non_negative(eps, "eps")

    def _update(self, p, g, state):
        g = g + self.weight_decay * p
        state["sum"] = state.get("sum", 0.0) + g * g
        clr = self.lr / (1.0 + (self.t - 1) * self.lr_decay)
        p -= clr * g / (np.sqrt(state["sum"]) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``: divide by a running RMS of the gradient.

    v_t = alpha v_{t-1} + (1 - alpha) g^2;  theta <- theta - eta g / (sqrt(v_t) + eps)
    (optionally with momentum on g / (sqrt(v_t) + eps), or centred by the running mean of g).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = _check_beta(alpha, "alpha"), check_non_negative(eps, "eps")
        self.momentum = _check_beta(momentum, "momentum")
        if not isinstance(centered, bool):
            raise ValueError(f"centered must be True or False, got {centered!r}")
        self.centered = centered

    def _update(self, p, g, state):
        g = g + self.weight_decay * p
        state["sq"] = self.alpha * state.get("sq", 0.0) + (1.0 - self.alpha) * g * g
        if self.centered:
            state["avg"] = self.alpha * state.get("avg", 0.0) + (1.0 - self.alpha) * g
            denom = np.sqrt(state["sq"] - state["avg"] ** 2) + self.eps
        else:
            denom = np.sqrt(state["sq"]) + self.eps
        if self.momentum:
            state["buf"] = self.momentum * state.get("buf", 0.0) + g / denom
            p -= self.lr * state["buf"]
        else:
            p -= self.lr * g / denom


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with bias correction, as ``torch.optim.Adam`` (L2 decay added to g).

    m_t = b1 m_{t-1} + (1 - b1) g;  v_t = b2 v_{t-1} + (1 - b2) g^2;
    theta <- theta - eta (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps).
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = _check_beta(betas[0], "betas[0]"), _check_beta(betas[1], "betas[1]")
        self.eps = check_non_negative(eps, "eps")

    def _update(self, p, g, state):
        if self.decoupled:
            p *= 1.0 - self.lr * self.weight_decay  # AdamW: shrink theta itself, outside the moments
        else:
            g = g + self.weight_decay * p
        state["m"] = self.beta1 * state.get("m", 0.0) + (1.0 - self.beta1) * g
        state["v"] = self.beta2 * state.get("v", 0.0) + (1.0 - self.beta2) * g * g
        correction1, correction2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        denom = np.sqrt(state["v"]) / math.sqrt(correction2) + self.eps
        p -= (self.lr / correction1) * state["m"] / denom


class AdamW(Adam):
    """AdamW (Loshchilov and Hutter 2019), as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    theta <- (1 - eta lambda) theta first, then the Adam step on the plain gradient g.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "adagrad": Adagrad, "rmsprop": RMSprop,
              "adam": Adam, "adamw": AdamW}


def make_optimizer(name: str, params, lr: float, **kwargs) -> Optimizer:
    """The optimiser called ``name`` ('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam', 'adamw').

    'momentum' and 'nesterov' are SGD with ``momentum=0.9`` unless given (and ``nesterov=True``).
    """
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"name must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    if name in ("momentum", "nesterov"):
        kwargs.setdefault("momentum", 0.9)
        kwargs["nesterov"] = name == "nesterov"
    return OPTIMIZERS[name](params, lr=lr, **kwargs)


def optimise_path(name: str, grad_fn: Callable[[np.ndarray], np.ndarray], x0, lr: float, steps: int,
                  **kwargs) -> np.ndarray:
    """The points x_0, ..., x_steps visited by optimiser ``name`` on f with gradient ``grad_fn``; (steps+1, D).

    Stops early (and returns the shorter path) if the iterate leaves the finite numbers.
    """
    x0 = as_float_array(x0, "x0", ndim=1, allow_empty=False)
    steps = check_positive_int(steps, "steps")
    opt = make_optimizer(name, [x0], lr, **kwargs)
    path = [x0.copy()]
    for _ in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            grad = np.asarray(grad_fn(opt.params[0].copy()), dtype=float)
        if not np.all(np.isfinite(grad)) or np.abs(opt.params[0]).max() > 1e12:
            break  # diverged: the rest of the path would be inf / nan
        opt.step([grad])
        path.append(opt.params[0].copy())
    return np.array(path)


def nesterov_sutskever(grad_fn: Callable[[np.ndarray], np.ndarray], theta0, lr: float, momentum: float,
                       steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nesterov momentum in Sutskever's form: the iterates theta_t and velocities v_t, each (steps+1, D).

    v_{t+1} = mu v_t - eta grad f(theta_t + mu v_t),  theta_{t+1} = theta_t + v_{t+1},  v_0 = 0.
    PyTorch's ``nesterov=True`` parameters are p_t = theta_t + mu v_t (see the module docstring).
    """
    theta = as_float_array(theta0, "theta0", ndim=1, allow_empty=False)
    lr, mu = check_positive(lr, "lr"), _check_beta(momentum, "momentum")
    steps = check_positive_int(steps, "steps")
    v = np.zeros_like(theta)
    thetas, velocities = [theta.copy()], [v.copy()]
    for _ in range(steps):
        v = mu * v - lr * np.asarray(grad_fn(theta + mu * v), dtype=float)
        theta = theta + v
        thetas.append(theta.copy())
        velocities.append(v.copy())
    return np.array(thetas), np.array(velocities)


# ---------------------------------------------------------------- learning-rate schedules


def lr_schedule(kind: str, lr0: float, epoch: int, *, step_size: int = 10, gamma: float = 0.1,
                total: int = 100, eta_min: float = 0.0) -> float:
    """The learning rate at ``epoch`` (0, 1, ...) of a schedule, as torch's schedulers give it.

    'constant': eta_0;  'step': eta_0 gamma^floor(t / step_size) (StepLR);  'exponential': eta_0 gamma^t
    (ExponentialLR);  'cosine': eta_min + (eta_0 - eta_min)(1 + cos(pi t / T)) / 2 for t <= T = total
    (CosineAnnealingLR).
    """
    kinds = ("constant", "step", "exponential", "cosine")
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(f"kind must be one of {list(kinds)}, got {kind!r}")
    lr0 = check_positive(lr0, "lr0")
    epoch = check_int(epoch, "epoch", minimum=0)
    if kind == "constant":
        return lr0
    if kind in ("step", "exponential"):
        gamma = check_positive(gamma, "gamma")
        power = epoch // check_positive_int(step_size, "step_size") if kind == "step" else epoch
        return lr0 * gamma ** power
    total, eta_min = check_positive_int(total, "total"), check_non_negative(eta_min, "eta_min")
    t = min(epoch, total)
    return eta_min + (lr0 - eta_min) * (1.0 + math.cos(math.pi * t / total)) / 2.0


# ---------------------------------------------------------------- gradient clipping


def clip_by_norm(g, max_norm: float) -> np.ndarray:
    """Rescale g so its Euclidean norm is at most ``max_norm``: g min(1, c / ||g||_2); any shape.

    The direction is kept (clipping each entry separately would change it). A zero g stays zero.
    """
    g = as_float_array(g, "g")
    max_norm = check_positive(max_norm, "max_norm")
    norm = float(np.sqrt(np.sum(g * g)))
    return g * (max_norm / norm) if norm > max_norm else g


def clip_grads_by_global_norm(grads: Sequence, max_norm: float) -> tuple[list[np.ndarray], float]:
    """Clip a list of gradients by their joint norm sqrt(sum_i ||g_i||^2); return (clipped, norm before).

    ``torch.nn.utils.clip_grad_norm_`` does the same with c / (||g|| + 1e-6), a relative difference
    of about 1e-6 / c.
    """
    grads = _as_list(grads, "grads")
    max_norm = check_positive(max_norm, "max_norm")
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads], norm
