"""Optimizers and learning-rate schedules.

Every flat-buffer optimizer is checked two ways over several steps on several
weight arrays packed into one buffer:

* against ``torch.optim`` wherever a setting exists under which PyTorch computes
  the same update as Keras (for some optimizers that means a negligible epsilon,
  because the two libraries put epsilon in different places; see ``TORCH_CASES``);
* against a straightforward per-array NumPy transcription of the Keras 3 update
  equations (``keras_step_*`` below), with Keras's default epsilons.

Every test runs on each core array backend (see ``conftest.py``): the problems are
made with NumPy, the optimizer runs on the active backend (``on_backend``), and its
results come back with ``to_numpy`` for comparison.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch

from _helpers import on_backend, to_numpy
from glassnet import optimizers, schedules
from glassnet.backend import dtype_name, is_backend_array, use_backend
from glassnet.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop
from glassnet.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
)

pytestmark = pytest.mark.usefixtures("array_backend")

# Four weight arrays (W1, b1, W2, b2) packed one after another in one flat buffer.
SHAPES = [(3, 4), (4,), (4, 2), (2,)]
N_STEPS = 6
# Gradient scale per step: uneven, so that running maxima (Adamax, AMSGrad) and
# shrinking second moments actually matter.
GRADIENT_SCALES = [1.0, 3.0, 0.2, 2.0, 0.05, 0.5, 1.5, 0.1]


def make_segments(shapes=SHAPES):
    segments, start = [], 0
    for shape in shapes:
        stop = start + math.prod(shape)
        segments.append((start, stop))
        start = stop
    return segments


SEGMENTS = make_segments()
N_PARAMS = SEGMENTS[-1][1]


def make_problem(seed=0, n_steps=N_STEPS, dtype=np.float64):
    """Initial flat parameters and one flat gradient per step."""
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(N_PARAMS).astype(dtype)
    grads = [
        (GRADIENT_SCALES[k % len(GRADIENT_SCALES)] * rng.standard_normal(N_PARAMS)).astype(dtype)
        for k in range(n_steps)
    ]
    return params, grads


def split(flat):
    pairs = zip(SEGMENTS, SHAPES, strict=True)
    return [flat[start:stop].reshape(shape) for (start, stop), shape in pairs]


def run_flat(optimizer, params, grads):
    """Apply ``optimizer`` to a copy of the NumPy ``params`` on the active backend, with the
    NumPy ``grads``; return the flat parameters after each step, as NumPy arrays."""
    params = on_backend(params.copy())
    optimizer.build(params, SEGMENTS)
    history = []
    for grad in grads:
        optimizer.apply(params, on_backend(grad.copy()))  # apply may overwrite its grads
        history.append(to_numpy(params).copy())
    return history


def run_torch(make_optimizer, params, grads, make_scheduler=None):
    # torch keeps scalar state (NAdam's mu_product, the step counts) in float32
    # unless the default dtype is float64.
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        tensors = [torch.tensor(a, requires_grad=True) for a in split(params)]
        optimizer = make_optimizer(tensors)
        scheduler = make_scheduler(optimizer) if make_scheduler else None
        history = []
        for grad in grads:
            for tensor, g in zip(tensors, split(grad), strict=True):
                tensor.grad = torch.tensor(g)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            history.append(np.concatenate([t.detach().numpy().ravel() for t in tensors]))
    finally:
        torch.set_default_dtype(default_dtype)
    return history


# ----------------------------------------------------------------------------
# 1. Against PyTorch, under settings where both libraries compute the same thing.
# ----------------------------------------------------------------------------
# TINY stands in for "no epsilon": Keras requires epsilon > 0, and in float64
# adding 1e-300 to any of these accumulators changes nothing, so Keras with
# TINY and PyTorch with eps=0 compute the same numbers. It is needed where the
# libraries place epsilon differently:
#   Adam/AdamW: Keras  m_t * lr*sqrt(1-b2^t)/(1-b1^t) / (sqrt(v) + eps)
#               torch  m_t * lr/(1-b1^t) / (sqrt(v)/sqrt(1-b2^t) + eps)
#               (Keras's eps is Kingma & Ba's "epsilon hat" = torch eps*sqrt(1-b2^t),
#               which changes every step, so no constant mapping exists);
#   RMSprop, Adagrad: Keras sqrt(s + eps), torch sqrt(s) + eps;
#   Adamax: Keras lr*m / ((1-b1^t)(u + eps)), torch u = max(b2*u, |g| + eps).
# Exact mappings with a real epsilon:
#   Adadelta: same equations (only the default lr differs: Keras 0.001, torch 1.0);
#   Nadam: torch NAdam's momentum schedule is 0.96^(t*momentum_decay) with
#   momentum_decay=0.004 by default (Dozat); Keras uses 0.96^t, i.e. momentum_decay=1.
# SGD momentum: Keras v = mu*v - lr*g, p += v; torch b = mu*b + g, p -= lr*b.
# The same for a constant lr (v = -lr*b); Nesterov likewise.
# AdamW: both decay first (p -= lr*wd*p, torch writes p *= 1 - lr*wd), then take
# the Adam step with the same lr; only Adam's epsilon differs.
TINY = 1e-300

TORCH_CASES = {
    "sgd": (lambda: SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd-momentum": (
        lambda: SGD(0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    ),
    "sgd-nesterov": (
        lambda: SGD(0.1, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True),
    ),
    "rmsprop": (
        lambda: RMSprop(0.01, rho=0.8, epsilon=TINY),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=0.0),
    ),
    "rmsprop-centered-momentum": (
        lambda: RMSprop(0.01, rho=0.7, momentum=0.5, centered=True, epsilon=TINY),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.7, momentum=0.5, centered=True, eps=0.0),
    ),
    "adagrad": (
        lambda: Adagrad(0.1, initial_accumulator_value=0.3, epsilon=TINY),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.3, eps=0.0),
    ),
    "adadelta": (
        lambda: Adadelta(1.0, rho=0.9, epsilon=1e-6),
        lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6),
    ),
    "adam": (
        lambda: Adam(0.01, beta_1=0.8, beta_2=0.9, epsilon=TINY),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9), eps=0.0),
    ),
    "adam-amsgrad": (
        lambda: Adam(0.01, beta_2=0.5, epsilon=TINY, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.5), eps=0.0, amsgrad=True),
    ),
    "adamax": (
        lambda: Adamax(0.01, beta_2=0.9, epsilon=TINY),
        lambda p: torch.optim.Adamax(p, lr=0.01, betas=(0.9, 0.9), eps=0.0),
    ),
    "nadam": (
        lambda: Nadam(0.01, epsilon=1e-3),
        lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-3, momentum_decay=1.0),
    ),
    "adamw": (
        lambda: AdamW(0.01, weight_decay=0.5, epsilon=TINY),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.5, eps=0.0),
    ),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch(case):
    make_ours, make_theirs = TORCH_CASES[case]
    params, grads = make_problem(seed=1)
    ours = run_flat(make_ours(), params, grads)
    theirs = run_torch(make_theirs, params, grads)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=f"step {step}")
    assert not np.allclose(ours[-1], params)  # the parameters really moved


def test_amsgrad_maximum_is_exercised():
    """The AMSGrad case above is only meaningful if v_hat differs from v."""
    params, grads = make_problem(seed=1)
    optimizer = Adam(0.01, beta_2=0.5, amsgrad=True)
    run_flat(optimizer, params, grads)
    state = optimizer.get_state()
    assert np.all(state["velocity_hats"] >= state["velocities"])
    assert np.any(state["velocity_hats"] > 2 * state["velocities"])


# ----------------------------------------------------------------------------
# 2. Against a per-array NumPy transcription of Keras 3's update_step methods.
# ----------------------------------------------------------------------------
def keras_step_sgd(p, g, s, t, lr, momentum=0.0, nesterov=False):
    if momentum == 0:
        p -= lr * g
        return
    v = s.setdefault("v", np.zeros_like(p))
    v[...] = momentum * v - lr * g
    if nesterov:
        p += momentum * v - lr * g
    else:
        p += v


def keras_step_rmsprop(p, g, s, t, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    velocity = s.setdefault("velocity", np.zeros_like(p))
    velocity[...] = rho * velocity + (1 - rho) * np.square(g)
    if centered:
        average_grad = s.setdefault("average_grad", np.zeros_like(p))
        average_grad[...] = rho * average_grad + (1 - rho) * g
        denominator = velocity - np.square(average_grad) + epsilon
    else:
        denominator = velocity + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        buffer = s.setdefault("momentum", np.zeros_like(p))
        buffer[...] = momentum * buffer + increment
        p -= buffer
    else:
        p -= increment


def keras_step_adagrad(p, g, s, t, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    accumulator = s.setdefault("accumulator", np.full_like(p, initial_accumulator_value))
    accumulator += np.square(g)
    p -= lr * g / np.sqrt(accumulator + epsilon)


def keras_step_adadelta(p, g, s, t, lr, rho=0.95, epsilon=1e-7):
    accumulated_grad = s.setdefault("accumulated_grad", np.zeros_like(p))
    accumulated_delta = s.setdefault("accumulated_delta", np.zeros_like(p))

    def rms(x):
        return np.sqrt(x + epsilon)

    accumulated_grad[...] = rho * accumulated_grad + (1 - rho) * np.square(g)
    delta = -rms(accumulated_delta) * g / rms(accumulated_grad)
    accumulated_delta[...] = rho * accumulated_delta + (1 - rho) * np.square(delta)
    p += lr * delta


def keras_step_adam(p, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = s.setdefault("m", np.zeros_like(p))
    v = s.setdefault("v", np.zeros_like(p))
    alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1)
    v += (np.square(g) - v) * (1 - beta_2)
    if amsgrad:
        v_hat = s.setdefault("v_hat", np.zeros_like(p))
        v_hat[...] = np.maximum(v_hat, v)
        v = v_hat
    p -= m * alpha / (np.sqrt(v) + epsilon)


def keras_step_adamw(p, g, s, t, lr, weight_decay=0.004, **adam):
    p -= p * weight_decay * lr  # Optimizer._apply_weight_decay, before the update step
    keras_step_adam(p, g, s, t, lr, **adam)


def keras_step_adamax(p, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = s.setdefault("m", np.zeros_like(p))
    u = s.setdefault("u", np.zeros_like(p))
    m += (g - m) * (1 - beta_1)
    u[...] = np.maximum(beta_2 * u, np.abs(g))
    p -= lr * m / ((1 - beta_1**t) * (u + epsilon))


def keras_step_nadam(p, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    # Keras multiplies the shared u_product by u_t once per step, before the
    # per-variable updates; here every array keeps the product itself.
    u_t = beta_1 * (1 - 0.5 * 0.96**t)
    u_t_1 = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    s["u_product"] = s.get("u_product", 1.0) * u_t
    u_product_t = s["u_product"]
    u_product_t_1 = u_product_t * u_t_1
    m = s.setdefault("m", np.zeros_like(p))
    v = s.setdefault("v", np.zeros_like(p))
    m += (g - m) * (1 - beta_1)
    v += (np.square(g) - v) * (1 - beta_2)
    m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
    v_hat = v / (1 - beta_2**t)
    p -= m_hat * lr / (np.sqrt(v_hat) + epsilon)


KERAS_STEPS = {
    "sgd": keras_step_sgd,
    "rmsprop": keras_step_rmsprop,
    "adagrad": keras_step_adagrad,
    "adadelta": keras_step_adadelta,
    "adam": keras_step_adam,
    "adamw": keras_step_adamw,
    "adamax": keras_step_adamax,
    "nadam": keras_step_nadam,
}


def run_keras_reference(name, params, grads, learning_rate, **hyperparameters):
    arrays = [a.copy() for a in split(params)]
    states = [{} for _ in arrays]
    history = []
    for t, grad in enumerate(grads, start=1):
        for p, g, s in zip(arrays, split(grad), states, strict=True):
            KERAS_STEPS[name](p, g, s, t, learning_rate, **hyperparameters)
        history.append(np.concatenate([a.ravel() for a in arrays]))
    return history


# (registry name, learning rate, hyperparameters); default epsilons unless stated,
# plus a large epsilon where its placement matters.
KERAS_CASES = [
    ("sgd", 0.1, {}),
    ("sgd", 0.1, {"momentum": 0.9}),
    ("sgd", 0.1, {"momentum": 0.5, "nesterov": True}),
    ("rmsprop", 0.01, {}),
    ("rmsprop", 0.01, {"rho": 0.5, "momentum": 0.3, "centered": True, "epsilon": 0.1}),
    ("adagrad", 0.1, {}),
    ("adagrad", 0.1, {"initial_accumulator_value": 0.0, "epsilon": 0.5}),
    ("adadelta", 1.0, {}),
    ("adadelta", 0.5, {"rho": 0.5, "epsilon": 1e-2}),
    ("adam", 0.01, {}),
    ("adam", 0.01, {"beta_1": 0.5, "beta_2": 0.6, "epsilon": 0.3, "amsgrad": True}),
    ("adamw", 0.01, {}),
    ("adamw", 0.05, {"weight_decay": 0.9, "epsilon": 0.3, "amsgrad": True}),
    ("adamax", 0.01, {}),
    ("adamax", 0.01, {"beta_2": 0.5, "epsilon": 0.3}),
    ("nadam", 0.01, {}),
    ("nadam", 0.01, {"beta_1": 0.6, "beta_2": 0.7, "epsilon": 0.3}),
]


@pytest.mark.parametrize(
    ("name", "learning_rate", "hyperparameters"),
    KERAS_CASES,
    ids=[f"{name}-{'-'.join(extra) or 'defaults'}" for name, _, extra in KERAS_CASES],
)
def test_matches_keras_reference(name, learning_rate, hyperparameters):
    params, grads = make_problem(seed=2)
    optimizer = optimizers.get(name)
    optimizer = type(optimizer)(learning_rate=learning_rate, **hyperparameters)
    ours = run_flat(optimizer, params, grads)
    reference = run_keras_reference(name, params, grads, learning_rate, **hyperparameters)
    for step, (a, b) in enumerate(zip(ours, reference, strict=True), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step}")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: Adam(0.01, epsilon=0.1), lambda p: torch.optim.Adam(p, lr=0.01, eps=0.1)),
        (lambda: RMSprop(0.01, epsilon=0.1), lambda p: torch.optim.RMSprop(p, lr=0.01, eps=0.1)),
        (lambda: Adagrad(0.1, epsilon=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=0.1)),
        (lambda: Adamax(0.01, epsilon=0.1), lambda p: torch.optim.Adamax(p, lr=0.01, eps=0.1)),
        (lambda: Nadam(0.01), lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-7)),
    ],
)
def test_differs_from_torch_where_keras_differs(ours, theirs):
    """The definitional differences documented above are real: with a
    non-negligible epsilon (or torch's default NAdam momentum schedule) the
    libraries disagree, so the agreement in ``test_matches_torch`` is not vacuous."""
    params, grads = make_problem(seed=3)
    a = run_flat(ours(), params, grads)[-1]
    b = run_torch(theirs, params, grads)[-1]
    assert np.max(np.abs(a - b)) > 1e-6


# ----------------------------------------------------------------------------
# 3. The fast in-place Adam against a textbook per-array Adam.
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [(np.float64, 1e-13, 1e-15), (np.float32, 1e-6, 1e-6)]
)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_flat_adam_matches_per_array_adam(dtype, rtol, atol, amsgrad):
    params, grads = make_problem(seed=4, n_steps=20, dtype=dtype)
    ours = run_flat(Adam(0.01, amsgrad=amsgrad), params, grads)
    reference = run_keras_reference("adam", params, grads, 0.01, amsgrad=amsgrad)
    for step, (a, b) in enumerate(zip(ours, reference, strict=True), start=1):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {step}")


# ----------------------------------------------------------------------------
# 4. Gradient clipping.
# ----------------------------------------------------------------------------
def one_sgd_step(grads, **clipping):
    """The clipped gradient (NumPy), read off one plain SGD step with learning rate 1."""
    params = on_backend(np.zeros_like(grads))
    optimizer = SGD(1.0, **clipping)
    optimizer.build(params, SEGMENTS)
    optimizer.apply(params, on_backend(grads.copy()))
    return -to_numpy(params)


def test_clipnorm_clips_each_weight_array_separately():
    grads = np.ones(N_PARAMS)
    grads[SEGMENTS[0][0] : SEGMENTS[0][1]] = 10.0  # norm 10 * sqrt(12), clipped
    grads[SEGMENTS[1][0] : SEGMENTS[1][1]] = 0.1  # norm 0.2, untouched
    clipped = one_sgd_step(grads, clipnorm=1.0)
    norms = [np.linalg.norm(clipped[start:stop]) for start, stop in SEGMENTS]
    np.testing.assert_allclose(norms[0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(norms[1], 0.2, rtol=1e-12)
    np.testing.assert_allclose(norms[2:], 1.0, rtol=1e-12)  # sqrt(8) and sqrt(2), clipped
    # direction is kept
    np.testing.assert_allclose(clipped[: SEGMENTS[0][1]], 1.0 / math.sqrt(12), rtol=1e-12)
    np.testing.assert_array_equal(clipped[SEGMENTS[1][0] : SEGMENTS[1][1]], 0.1)


def test_global_clipnorm_scales_the_whole_gradient():
    _, (grads, *_) = make_problem(seed=5)
    clipped = one_sgd_step(grads, global_clipnorm=0.5)
    np.testing.assert_allclose(clipped, grads * 0.5 / np.linalg.norm(grads), rtol=1e-12)
    small = grads * 0.1 / np.linalg.norm(grads)
    np.testing.assert_array_equal(one_sgd_step(small, global_clipnorm=0.5), small)


def test_clipnorm_matches_torch_clip_grad_norm():
    _, (grads, *_) = make_problem(seed=6)
    tensor = torch.tensor(grads.copy())
    tensor.grad = tensor.clone()
    torch.nn.utils.clip_grad_norm_([tensor], max_norm=0.5)  # torch adds 1e-6 to the norm
    np.testing.assert_allclose(
        one_sgd_step(grads, global_clipnorm=0.5), tensor.grad.numpy(), rtol=1e-5
    )


def test_clipvalue_clips_elementwise():
    _, (grads, *_) = make_problem(seed=7)
    clipped = one_sgd_step(grads, clipvalue=0.3)
    np.testing.assert_array_equal(clipped, np.clip(grads, -0.3, 0.3))
    assert np.any(np.abs(grads) > 0.3)


def test_clipping_happens_before_the_update_rule():
    _, grads = make_problem(seed=8)
    ours = run_flat(Adam(0.01, clipvalue=0.2), np.zeros(N_PARAMS), grads)
    reference = run_keras_reference(
        "adam", np.zeros(N_PARAMS), [np.clip(g, -0.2, 0.2) for g in grads], 0.01
    )
    np.testing.assert_allclose(ours[-1], reference[-1], rtol=1e-12)


@pytest.mark.parametrize("option", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_clip_values_must_be_positive(option, value):
    with pytest.raises(ValueError, match=option):
        SGD(**{option: value})


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of clipnorm, clipvalue and global_clipnorm"):
        Adam(clipnorm=1.0, clipvalue=0.5)


# ----------------------------------------------------------------------------
# 5. Learning-rate schedules.
# ----------------------------------------------------------------------------
def test_exponential_decay():
    smooth = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert smooth(0) == pytest.approx(0.1)
    assert smooth(5) == pytest.approx(0.1 * math.sqrt(0.5))
    assert smooth(20) == pytest.approx(0.025)
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert stairs(9) == pytest.approx(0.1)
    assert stairs(19) == pytest.approx(0.05)
    assert stairs(20) == pytest.approx(0.025)


def test_inverse_time_decay():
    smooth = InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
    assert smooth(10) == pytest.approx(0.05)
    assert smooth(15) == pytest.approx(0.1 / 2.5)
    stairs = InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0, staircase=True)
    assert stairs(15) == pytest.approx(0.05)
    assert stairs(30) == pytest.approx(0.025)


def test_piecewise_constant_decay():
    schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 10, 11, 20, 21, 1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_cosine_decay():
    schedule = CosineDecay(0.1, decay_steps=100, alpha=0.1)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(50) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    assert schedule(25) == pytest.approx(0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi / 4)) + 0.1))
    assert schedule(100) == pytest.approx(0.01)
    assert schedule(500) == pytest.approx(0.01)


def test_cosine_decay_with_warmup():
    schedule = CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10)
    expected = {0: 0.0, 5: 0.1, 10: 0.2, 60: 0.1, 110: 0.0, 500: 0.0}
    for step, rate in expected.items():
        assert schedule(step) == pytest.approx(rate, abs=1e-15), step


def test_schedule_accepts_an_array_of_steps():
    schedule = ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    rates = schedule(np.arange(4))
    assert isinstance(rates, np.ndarray)
    np.testing.assert_allclose(rates, [1.0, 0.5, 0.25, 0.125])
    assert isinstance(schedule(3), float)
    # Steps on the active backend are copied to the host: schedules compute with NumPy.
    rates_from_backend = schedule(on_backend(np.arange(4)))
    assert isinstance(rates_from_backend, np.ndarray)
    np.testing.assert_array_equal(rates_from_backend, rates)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: ExponentialDecay(0.1, 10, 0.0), "decay_rate"),
        (lambda: ExponentialDecay(0.1, 10, 0.5, staircase="yes"), "staircase"),
        (lambda: InverseTimeDecay(-0.1, 10, 0.5), "initial_learning_rate"),
        (lambda: PiecewiseConstantDecay([1, 2], [0.1, 0.2]), "one more element"),
        (lambda: PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "strictly increasing"),
        (lambda: CosineDecay(0.1, 100, alpha=1.5), "alpha"),
        (lambda: CosineDecay(0.1, 100, warmup_steps=10), "warmup_target"),
        (lambda: ExponentialDecay(0.1, 10, 0.5)(-1), "step"),
    ],
)
def test_schedule_validation(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


SCHEDULES = [
    ExponentialDecay(0.1, 7, 0.3, staircase=True),
    InverseTimeDecay(0.2, 3, 0.5),
    PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.01]),
    CosineDecay(0.0, 20, alpha=0.1, warmup_target=0.3, warmup_steps=4),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedule_config_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    assert config["name"] == type(schedule).__name__
    rebuilt = schedules.get(config)
    assert type(rebuilt) is type(schedule)
    assert rebuilt.get_config() == schedule.get_config()
    steps = np.arange(30)
    np.testing.assert_array_equal(rebuilt(steps), schedule(steps))
    assert schedules.get(schedule) is schedule


def test_schedule_deserialize_unknown_name():
    with pytest.raises(ValueError, match="Did you mean 'exponentialdecay'"):
        schedules.deserialize({"name": "ExponentalDecay"})


def test_optimizer_evaluates_the_schedule_at_iterations():
    """Keras semantics: step k (counting from 0) uses schedule(k)."""
    schedule = PiecewiseConstantDecay([1], [1.0, 0.1])  # 1.0 at steps 0 and 1, then 0.1
    optimizer = SGD(schedule)
    params = on_backend(np.zeros(3))
    rates = []
    for _ in range(4):
        rates.append(optimizer.current_learning_rate)
        optimizer.apply(params, on_backend(np.ones(3)))
    assert rates == [1.0, 1.0, 0.1, 0.1]
    assert all(type(rate) is float for rate in rates)
    np.testing.assert_allclose(to_numpy(params), -2.2)
    assert optimizer.iterations == 4


def test_schedule_with_torch_lambda_lr():
    """ExponentialDecay inside Adam equals torch Adam driven by LambdaLR with the same rates."""
    schedule = ExponentialDecay(0.05, decay_steps=2, decay_rate=0.3)
    params, grads = make_problem(seed=9)
    ours = run_flat(Adam(schedule, epsilon=TINY), params, grads)

    theirs = run_torch(
        lambda tensors: torch.optim.Adam(tensors, lr=0.05, eps=0.0),
        params,
        grads,
        make_scheduler=lambda optimizer: torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: schedule(k) / 0.05
        ),
    )
    np.testing.assert_allclose(ours[-1], theirs[-1], rtol=1e-10)


# ----------------------------------------------------------------------------
# 6. Config, state, registry.
# ----------------------------------------------------------------------------
CONFIGURED = [
    SGD(0.05, momentum=0.7, nesterov=True, clipnorm=2.0),
    RMSprop(0.002, rho=0.8, momentum=0.3, centered=True, epsilon=1e-6),
    Adagrad(0.02, initial_accumulator_value=0.5, clipvalue=1.0),
    Adadelta(0.9, rho=0.8),
    Adam(ExponentialDecay(0.01, 3, 0.5), beta_1=0.8, amsgrad=True, global_clipnorm=3.0),
    Adamax(0.003, beta_2=0.99),
    Nadam(CosineDecay(0.0, 10, warmup_target=0.01, warmup_steps=2), name="my_nadam"),
    AdamW(0.004, weight_decay=0.1, epsilon=1e-5),
]


@pytest.mark.parametrize("optimizer", CONFIGURED, ids=lambda o: type(o).__name__)
def test_config_round_trip(optimizer):
    config = optimizer.get_config()
    config = json.loads(json.dumps(config))  # JSON-serialisable
    rebuilt = optimizers.get(config)
    assert type(rebuilt) is type(optimizer)
    assert rebuilt is not optimizer
    assert rebuilt.get_config() == optimizer.get_config()
    assert rebuilt.name == optimizer.name
    assert type(optimizer).from_config(config).get_config() == config
    # and it really behaves the same
    params, grads = make_problem(seed=10)
    fresh = type(optimizer).from_config(optimizer.get_config())
    np.testing.assert_array_equal(
        run_flat(fresh, params, grads)[-1], run_flat(rebuilt, params, grads)[-1]
    )


def test_config_lists_every_hyperparameter():
    config = AdamW().get_config()
    assert config == {
        "name": "adamw",
        "class_name": "AdamW",
        "learning_rate": 0.001,
        "clipnorm": None,
        "clipvalue": None,
        "global_clipnorm": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
        "weight_decay": 0.004,
    }


@pytest.mark.parametrize("optimizer", CONFIGURED, ids=lambda o: type(o).__name__)
def test_state_gives_bitwise_identical_continuation(optimizer):
    params, grads = make_problem(seed=11, n_steps=8)
    fresh = type(optimizer).from_config(optimizer.get_config())
    uninterrupted = run_flat(fresh, params, grads)[-1]

    first = type(optimizer).from_config(optimizer.get_config())
    halfway = run_flat(first, params, grads[:4])[-1]
    state = first.get_state()
    assert state["iterations"] == 4
    assert all(type(value) is np.ndarray for value in state.values())  # NumPy on every backend
    # through .npy files and back, as a checkpoint does
    for name, value in state.items():
        file = io.BytesIO()
        np.save(file, value, allow_pickle=False)
        file.seek(0)
        state[name] = np.load(file, allow_pickle=False)

    resumed = type(optimizer).from_config(optimizer.get_config())
    continued = on_backend(halfway.copy())
    resumed.build(continued, SEGMENTS)
    resumed.set_state(state)
    assert resumed.iterations == 4
    for grad in grads[4:]:
        resumed.apply(continued, on_backend(grad.copy()))
    np.testing.assert_array_equal(to_numpy(continued), uninterrupted)


def test_get_state_returns_copies():
    optimizer = Adam()
    run_flat(optimizer, *make_problem(seed=12, n_steps=2))
    state = optimizer.get_state()
    state["momentums"][:] = 123.0
    assert not np.any(optimizer.get_state()["momentums"] == 123.0)


def test_state_names_follow_keras():
    def names(optimizer):
        optimizer.build(on_backend(np.zeros(4)), [(0, 4)])
        return sorted(optimizer.get_state())

    assert names(SGD()) == ["iterations"]
    assert names(SGD(momentum=0.9)) == ["iterations", "momentums"]
    assert names(RMSprop(momentum=0.5, centered=True)) == [
        "average_gradients",
        "iterations",
        "momentums",
        "velocities",
    ]
    assert names(Adam(amsgrad=True)) == ["iterations", "momentums", "velocities", "velocity_hats"]
    assert names(Nadam()) == ["iterations", "momentums", "u_product", "velocities"]
    adagrad = Adagrad(initial_accumulator_value=0.25)
    adagrad.build(on_backend(np.zeros(4)), [(0, 4)])
    np.testing.assert_array_equal(adagrad.get_state()["accumulators"], 0.25)


@pytest.mark.parametrize("optimizer", CONFIGURED, ids=lambda o: type(o).__name__)
def test_state_buffers_live_on_the_active_backend(optimizer):
    optimizer = type(optimizer).from_config(optimizer.get_config())
    optimizer.build(on_backend(np.zeros(N_PARAMS, dtype=np.float32)), SEGMENTS)
    buffers = dict(optimizer._state)
    if optimizer._scratch is not None:
        buffers["scratch"] = optimizer._scratch
    assert buffers
    for name, buffer in buffers.items():
        if name == "u_product":  # Nadam's running product: a float64 scalar on the host
            assert type(buffer) is np.ndarray and buffer.shape == () and buffer.dtype == np.float64
            continue
        assert is_backend_array(buffer), name
        assert tuple(buffer.shape) == (N_PARAMS,), name
        assert dtype_name(buffer) == "float32", name


def test_set_state_validates():
    optimizer = Adam()
    optimizer.build(on_backend(np.zeros(N_PARAMS)), SEGMENTS)
    good = optimizer.get_state()
    with pytest.raises(ValueError, match="exactly the keys"):
        optimizer.set_state({k: v for k, v in good.items() if k != "velocities"})
    with pytest.raises(ValueError, match="exactly the keys"):
        optimizer.set_state({**good, "extra": np.zeros(N_PARAMS)})
    with pytest.raises(ValueError, match=r"state\['momentums'\] must have shape"):
        optimizer.set_state({**good, "momentums": np.zeros(N_PARAMS + 1)})
    with pytest.raises(ValueError, match="iterations"):
        optimizer.set_state({**good, "iterations": np.array(-1)})
    with pytest.raises(TypeError, match=r"state\['velocities'\] must hold float64 numbers"):
        optimizer.set_state({**good, "velocities": np.zeros(N_PARAMS, dtype=np.complex128)})
    with pytest.raises(ValueError, match="build the optimizer"):
        Adam().set_state(good)
    # a failed set_state writes nothing
    np.testing.assert_array_equal(optimizer.get_state()["velocities"], good["velocities"])
    assert optimizer.iterations == 0


def test_get_by_name():
    assert isinstance(optimizers.get("adam"), Adam)
    assert isinstance(optimizers.get("RMSprop"), RMSprop)
    assert isinstance(optimizers.get("AdamW"), AdamW)
    for name in ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam", "adamw"]:
        optimizer = optimizers.get(name)
        assert type(optimizer).__name__.lower() == name == optimizer.name
    instance = Adam(0.5)
    assert optimizers.get(instance) is instance
    from_dict = optimizers.get({"name": "adam", "learning_rate": 0.01})
    assert isinstance(from_dict, Adam) and from_dict.learning_rate == 0.01


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("adma", "adam"), ("sdg", "sgd"), ("rmsporp", "rmsprop"), ("nadm", "nadam")],
)
def test_unknown_name_suggests_the_closest(typo, suggestion):
    with pytest.raises(ValueError, match=f"Did you mean '{suggestion}'") as info:
        optimizers.get(typo)
    assert "adadelta, adagrad, adam, adamax, adamw, nadam, rmsprop, sgd" in str(info.value)


def test_get_rejects_other_types():
    with pytest.raises(TypeError, match="optimizer must be"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="'name' key"):
        optimizers.get({"learning_rate": 0.1})


# ----------------------------------------------------------------------------
# 7. float32, validation, buffer checks.
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", CONFIGURED, ids=lambda o: type(o).__name__)
def test_float32_stays_float32(optimizer):
    params64, grads64 = make_problem(seed=13)
    params32 = params64.astype(np.float32)
    grads32 = [g.astype(np.float32) for g in grads64]
    opt32 = type(optimizer).from_config(optimizer.get_config())
    history = run_flat(opt32, params32, grads32)
    assert all(p.dtype == np.float32 for p in history)
    for name, value in opt32.get_state().items():
        if name not in ("iterations", "u_product"):
            assert value.dtype == np.float32, name
    reference = run_flat(type(optimizer).from_config(optimizer.get_config()), params64, grads64)
    np.testing.assert_allclose(history[-1], reference[-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD(0.0), "learning_rate"),
        (lambda: SGD(-0.1), "learning_rate"),
        (lambda: SGD("fast"), "learning_rate"),
        (lambda: SGD(momentum=-0.1), "momentum"),
        (lambda: SGD(momentum=1.5), "momentum"),
        (lambda: SGD(nesterov=1), "nesterov"),
        (lambda: RMSprop(rho=1.0), "rho"),
        (lambda: RMSprop(epsilon=0.0), "epsilon"),
        (lambda: RMSprop(centered="no"), "centered"),
        (lambda: Adagrad(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (lambda: Adadelta(rho=-0.1), "rho"),
        (lambda: Adam(beta_1=1.0), "beta_1"),
        (lambda: Adam(beta_2=-0.5), "beta_2"),
        (lambda: Adam(epsilon=-1e-7), "epsilon"),
        (lambda: Adam(amsgrad=None), "amsgrad"),
        (lambda: Adamax(beta_2=1.0), "beta_2"),
        (lambda: Nadam(beta_1=2.0), "beta_1"),
        (lambda: AdamW(weight_decay=-0.1), "weight_decay"),
        (lambda: Adam(name=3), "name"),
    ],
)
def test_hyperparameter_validation(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_apply_checks_buffers():
    optimizer = Adam()
    params = on_backend(np.zeros(N_PARAMS))
    optimizer.build(params, SEGMENTS)
    with pytest.raises(ValueError, match=rf"grads must be an array of shape \({N_PARAMS},\)"):
        optimizer.apply(params, on_backend(np.zeros(N_PARAMS + 1)))
    with pytest.raises(ValueError, match="grads must be an array of shape"):
        optimizer.apply(params, [0.0] * N_PARAMS)
    with pytest.raises(TypeError, match="grads must have dtype float64, got float32"):
        optimizer.apply(params, on_backend(np.zeros(N_PARAMS, dtype=np.float32)))
    with pytest.raises(ValueError, match="buffer this optimizer was built for"):
        optimizer.apply(
            on_backend(np.zeros(N_PARAMS, dtype=np.float32)),
            on_backend(np.zeros(N_PARAMS, dtype=np.float32)),
        )
    with pytest.raises(ValueError, match="create a new optimizer"):
        optimizer.build(on_backend(np.zeros(5)), [(0, 5)])
    assert optimizer.iterations == 0
    np.testing.assert_array_equal(to_numpy(params), 0.0)


@pytest.mark.parametrize(
    "segments",
    [[(0, N_PARAMS + 1)], [(3, 3)], [(4, 8), (0, 4)], [(0, 5), (4, 8)], [(0,)], [(0.0, 4)]],
)
def test_build_checks_segments(segments):
    with pytest.raises((ValueError, TypeError), match="segments"):
        Adam().build(on_backend(np.zeros(N_PARAMS)), segments)


def test_build_rejects_non_flat_params():
    with pytest.raises(ValueError, match="1-D"):
        Adam().build(on_backend(np.zeros((3, 4))), [(0, 12)])
    with pytest.raises(ValueError, match="1-D array of the active backend"):
        Adam().build([0.0, 1.0])
    with pytest.raises(TypeError, match="float"):
        Adam().build(on_backend(np.zeros(4, dtype=np.int64)), [(0, 4)])


def test_build_rejects_arrays_of_another_backend(array_backend):
    """The update is in place, so params cannot be converted: an array of another library
    (a NumPy array while array-api-strict is active, and vice versa) is refused."""
    other = "array_api_strict" if array_backend == "numpy" else "numpy"
    with use_backend(other):
        foreign = on_backend(np.zeros(4))
    message = f"1-D array of the active backend \\('{array_backend}'\\)"
    with pytest.raises(ValueError, match=message):
        Adam().build(foreign)
    optimizer = Adam()
    optimizer.build(on_backend(np.zeros(4)))
    with pytest.raises(ValueError, match="grads must be an array of shape"):
        optimizer.apply(on_backend(np.zeros(4)), foreign)


def test_optimizer_built_on_another_backend_is_refused(array_backend):
    other = "array_api_strict" if array_backend == "numpy" else "numpy"
    optimizer = SGD(momentum=0.5)
    with use_backend(other):
        optimizer.build(on_backend(np.zeros(4)))
    with pytest.raises(ValueError, match=f"built on the '{other}' backend"):
        optimizer.build(on_backend(np.zeros(4)))


def test_rebuilding_keeps_the_state():
    """Calling build again for the same buffer (a second ``fit``) keeps momentum, as in Keras."""
    optimizer = SGD(0.1, momentum=0.9)
    params, grads = make_problem(seed=14, n_steps=2)
    run_flat(optimizer, params, grads)
    before = optimizer.get_state()
    optimizer.build(on_backend(params.copy()), SEGMENTS)
    after = optimizer.get_state()
    np.testing.assert_array_equal(before["momentums"], after["momentums"])
    assert after["iterations"] == 2


def test_apply_builds_an_unbuilt_optimizer():
    optimizer = Adam(0.1)
    params = on_backend(np.ones(4))
    optimizer.apply(params, on_backend(np.ones(4)))
    assert optimizer.built and optimizer.iterations == 1
    np.testing.assert_allclose(to_numpy(params), 0.9, rtol=1e-6)  # first Adam step: lr * sign(g)


def test_learning_rate_is_settable():
    optimizer = Adam(0.01)
    optimizer.learning_rate = 0.5
    assert optimizer.current_learning_rate == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = -1.0
    optimizer.learning_rate = ExponentialDecay(1.0, 1, 0.5)
    assert optimizer.current_learning_rate == 1.0


def test_repr_shows_the_hyperparameters():
    assert repr(SGD(0.1, momentum=0.9)) == "SGD(learning_rate=0.1, momentum=0.9, nesterov=False)"
