"""Ready-made optimizers (optax's aliases): `chain`s of the building blocks in
`transform.py`, `scaling.py`, `accumulation.py`, `adding.py` and `clipping.py`, with
optax's names, arguments and defaults.

Every optimizer takes a `learning_rate` that is a number or a schedule (a function of
the step count) and returns a `GradientTransformationExtraArgs`; its state is the tuple
of the chained pieces' states, e.g. `adam(...)`'s is `(ScaleByAdamState(count, mu, nu),
EmptyState())`. Hyperparameters given as Python numbers are checked when the optimizer
is built; arrays are taken as they are.

The usual loop::

    opt = optim.adam(1e-3)
    state = opt.init(params)
    grads = lamina.grad(loss)(params, batch)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)
"""
from __future__ import annotations

import functools
from typing import Any, Optional

import lamina.numpy as lnp
from lamina.optim import accumulation, adding, clipping, scaling, transform
from lamina.optim._base import (
    GradientTransformationExtraArgs, ScalarOrSchedule, _check_decay, _check_learning_rate,
    _check_nonnegative, _check_range, chain, identity)

__all__ = [
    "adabelief", "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamaxw", "adamw",
    "amsgrad", "fromage", "lamb", "lars", "lion", "nadam", "nadamw", "noisy_sgd",
    "novograd", "radam", "rmsprop", "sgd", "sign_sgd", "sm3", "yogi",
]


def _adam_checks(fn: str, learning_rate, b1, b2, eps, eps_root=0.0, weight_decay=0.0):
    _check_learning_rate(fn, learning_rate)
    _check_decay(fn, "b1", b1, bias_corrected=True)
    _check_decay(fn, "b2", b2, bias_corrected=True)
    _check_nonnegative(fn, "eps", eps)
    _check_nonnegative(fn, "eps_root", eps_root)
    if not callable(weight_decay):
        _check_nonnegative(fn, "weight_decay", weight_decay)


def _check_momentum(fn: str, momentum: Any) -> None:
    if momentum is not None:
        _check_range(fn, "momentum", momentum, 0.0, 1.0, high_inclusive=True,
                     hint="it is the decay of the momentum trace (typical: 0.9)")


def sgd(learning_rate: ScalarOrSchedule, momentum: Optional[float] = None,
        nesterov: bool = False, accumulator_dtype: Any = None
        ) -> GradientTransformationExtraArgs:
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Args:
        learning_rate: step size, or a schedule of the step count.
        momentum: decay of the momentum trace; None for plain SGD.
        nesterov: use Nesterov momentum.
        accumulator_dtype: dtype of the momentum trace (default: the params').

    >>> import lamina, lamina.numpy as lnp, lamina.optim as optim
    >>> f = lambda x: lnp.sum(x ** 2)
    >>> opt = optim.sgd(0.1, momentum=0.9)
    >>> x = lnp.array([1., 2.])
    >>> state = opt.init(x)
    >>> for _ in range(3):
    ...     updates, state = opt.update(lamina.grad(f)(x), state, x)
    ...     x = optim.apply_updates(x, updates)
    >>> x
    Array([0.06200001, 0.12400001], dtype=float32)
    """
    _check_learning_rate("sgd", learning_rate)
    _check_momentum("sgd", momentum)
    if momentum is not None:
        first = accumulation.trace(decay=momentum, nesterov=nesterov,
                                   accumulator_dtype=accumulator_dtype)
    else:
        first = identity()
    return chain(first, transform.scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None, *,
         nesterov: bool = False) -> GradientTransformationExtraArgs:
    r"""Adam (Kingma & Ba, 2014): bias-corrected moving averages of the gradient `m`
    and of its square `v`; the update is `-lr * m_hat / (sqrt(v_hat + eps_root) + eps)`.

    Args:
        learning_rate: step size, or a schedule of the step count.
        b1: decay of the first moment, in [0, 1).
        b2: decay of the second moment, in [0, 1).
        eps: added to the denominator outside the square root.
        eps_root: added inside the square root (for meta-gradients through Adam).
        mu_dtype: dtype of the first moment (default: the params').
        nesterov: use Nesterov momentum (this is `nadam`).

    >>> import lamina, lamina.numpy as lnp, lamina.optim as optim
    >>> f = lambda x: lnp.sum(x ** 2)
    >>> opt = optim.adam(0.1)
    >>> x = lnp.array([1., 2.])
    >>> state = opt.init(x)
    >>> updates, state = opt.update(lamina.grad(f)(x), state, x)
    >>> optim.apply_updates(x, updates)
    Array([0.9000007, 1.9000007], dtype=float32)
    >>> type(state[0]).__name__, state[0]._fields
    ('ScaleByAdamState', ('count', 'mu', 'nu'))
    """
    _adam_checks("nadam" if nesterov else "adam", learning_rate, b1, b2, eps, eps_root)
    return chain(
        transform.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype,
                                nesterov=nesterov),
        transform.scale_by_learning_rate(learning_rate))


nadam = functools.partial(adam, nesterov=True)
nadam.__doc__ = """NAdam: `adam` with Nesterov momentum (`adam(..., nesterov=True)`).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.nadam(0.1)
    >>> opt.update(lnp.array([1.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.1], dtype=float32)
    """


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None,
          weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None, *,
          nesterov: bool = False) -> GradientTransformationExtraArgs:
    """AdamW: Adam with decoupled weight decay, `-lr * (adam_step + weight_decay * p)`.

    Args:
        learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov: as in `adam`.
        weight_decay: the decay strength (multiplied by the learning rate).
        mask: a tree of bools (or a function of the params returning one) choosing the
            leaves to decay.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adamw(0.1, weight_decay=0.5)
    >>> p = lnp.array([2.])
    >>> opt.update(lnp.array([1.]), opt.init(p), p)[0]
    Array([-0.19999933], dtype=float32)
    """
    _adam_checks("nadamw" if nesterov else "adamw", learning_rate, b1, b2, eps, eps_root,
                 weight_decay)
    return chain(
        transform.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype,
                                nesterov=nesterov),
        adding.add_decayed_weights(weight_decay, mask),
        transform.scale_by_learning_rate(learning_rate))


nadamw = functools.partial(adamw, nesterov=True)
nadamw.__doc__ = """NAdamW: `adamw` with Nesterov momentum (`adamw(..., nesterov=True)`).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.nadamw(0.1, weight_decay=0.0)
    >>> p = lnp.zeros(1)
    >>> opt.update(lnp.array([1.]), opt.init(p), p)[0]
    Array([-0.1], dtype=float32)
    """


def adamax(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> GradientTransformationExtraArgs:
    """AdaMax: Adam with the infinity norm of past gradients as the denominator.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adamax(0.1)
    >>> opt.update(lnp.array([4.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.09999998], dtype=float32)
    """
    _check_learning_rate("adamax", learning_rate)
    _check_decay("adamax", "b1", b1, bias_corrected=True)
    _check_decay("adamax", "b2", b2, bias_corrected=False)
    _check_nonnegative("adamax", "eps", eps)
    return chain(transform.scale_by_adamax(b1=b1, b2=b2, eps=eps),
                 transform.scale_by_learning_rate(learning_rate))


def adamaxw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
            eps: float = 1e-8, weight_decay: ScalarOrSchedule = 1e-4,
            mask: Any = None) -> GradientTransformationExtraArgs:
    """AdaMax with decoupled weight decay (as `adamw` is to `adam`).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adamaxw(0.1, weight_decay=0.0)
    >>> p = lnp.zeros(1)
    >>> opt.update(lnp.array([4.]), opt.init(p), p)[0]
    Array([-0.09999998], dtype=float32)
    """
    _check_learning_rate("adamaxw", learning_rate)
    _check_decay("adamaxw", "b1", b1, bias_corrected=True)
    _check_decay("adamaxw", "b2", b2, bias_corrected=False)
    _check_nonnegative("adamaxw", "eps", eps)
    if not callable(weight_decay):
        _check_nonnegative("adamaxw", "weight_decay", weight_decay)
    return chain(transform.scale_by_adamax(b1=b1, b2=b2, eps=eps),
                 adding.add_decayed_weights(weight_decay, mask),
                 transform.scale_by_learning_rate(learning_rate))


def amsgrad(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
            eps: float = 1e-8, eps_root: float = 0.0, mu_dtype: Any = None,
            bias_correction_mu: bool = True, bias_correction_nu: bool = True
            ) -> GradientTransformationExtraArgs:
    """AMSGrad: Adam with the running maximum of the second moment.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.amsgrad(0.1)
    >>> opt.update(lnp.array([4.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.09999933], dtype=float32)
    """
    _adam_checks("amsgrad", learning_rate, b1, b2, eps, eps_root)
    return chain(
        transform.scale_by_amsgrad(b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype,
                                   bias_correction_mu=bias_correction_mu,
                                   bias_correction_nu=bias_correction_nu),
        transform.scale_by_learning_rate(learning_rate))


def radam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0, threshold: float = 5.0, *,
          nesterov: bool = False) -> GradientTransformationExtraArgs:
    """Rectified Adam (Liu et al., 2020): SGD with momentum for the first steps, then
    Adam steps rectified by the variance of the adaptive learning rate.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.radam(0.1)
    >>> opt.update(lnp.array([4.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.39999992], dtype=float32)
    """
    _adam_checks("radam", learning_rate, b1, b2, eps, eps_root)
    return chain(
        transform.scale_by_radam(b1=b1, b2=b2, eps=eps, eps_root=eps_root,
                                 threshold=threshold, nesterov=nesterov),
        transform.scale_by_learning_rate(learning_rate))


def adabelief(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-16, eps_root: float = 1e-16, *,
              nesterov: bool = False) -> GradientTransformationExtraArgs:
    """AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks `(g - m)^2`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adabelief(0.1)
    >>> opt.update(lnp.array([1.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.11111037], dtype=float32)
    """
    _adam_checks("adabelief", learning_rate, b1, b2, eps, eps_root)
    return chain(
        transform.scale_by_belief(b1=b1, b2=b2, eps=eps, eps_root=eps_root, nesterov=nesterov),
        transform.scale_by_learning_rate(learning_rate))


def yogi(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-3) -> GradientTransformationExtraArgs:
    """Yogi (Zaheer et al., 2018): Adam with an additive second-moment update.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.yogi(0.1)
    >>> opt.update(lnp.array([1.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.09985048], dtype=float32)
    """
    _adam_checks("yogi", learning_rate, b1, b2, eps)
    return chain(transform.scale_by_yogi(b1=b1, b2=b2, eps=eps),
                 transform.scale_by_learning_rate(learning_rate))


def lion(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.99,
         mu_dtype: Any = None, weight_decay: ScalarOrSchedule = 1e-3,
         mask: Any = None) -> GradientTransformationExtraArgs:
    """Lion (Chen et al., 2023): the sign of an interpolation of gradient and momentum,
    plus decoupled weight decay. Use a learning rate 3-10x smaller than Adam's.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.lion(0.1, weight_decay=0.0)
    >>> p = lnp.zeros(2)
    >>> opt.update(lnp.array([0.3, -2.]), opt.init(p), p)[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    _check_learning_rate("lion", learning_rate)
    _check_decay("lion", "b1", b1, bias_corrected=False)
    _check_decay("lion", "b2", b2, bias_corrected=False)
    if not callable(weight_decay):
        _check_nonnegative("lion", "weight_decay", weight_decay)
    return chain(transform.scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
                 adding.add_decayed_weights(weight_decay, mask),
                 transform.scale_by_learning_rate(learning_rate))


def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformationExtraArgs:
    """Adagrad (Duchi et al., 2011): divides by the root of the sum of all past squared
    gradients.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adagrad(0.1, initial_accumulator_value=0.0, eps=0.0)
    >>> opt.update(lnp.array([4.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.1], dtype=float32)
    """
    _check_learning_rate("adagrad", learning_rate)
    _check_nonnegative("adagrad", "initial_accumulator_value", initial_accumulator_value)
    _check_nonnegative("adagrad", "eps", eps)
    return chain(transform.scale_by_rss(initial_accumulator_value=initial_accumulator_value,
                                        eps=eps),
                 transform.scale_by_learning_rate(learning_rate))


def adadelta(learning_rate: Optional[ScalarOrSchedule] = None, rho: float = 0.9,
             eps: float = 1e-6, weight_decay: ScalarOrSchedule = 0.0,
             weight_decay_mask: Any = None) -> GradientTransformationExtraArgs:
    """AdaDelta (Zeiler, 2012): unit-consistent steps from moving averages of squared
    gradients and squared updates. With `learning_rate=None` the update is not negated
    (as in optax).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adadelta(1.0, eps=1.0)
    >>> p = lnp.zeros(1)
    >>> opt.update(lnp.array([0.]), opt.init(p), p)[0]
    Array([-0.], dtype=float32)
    """
    _check_learning_rate("adadelta", learning_rate)
    _check_decay("adadelta", "rho", rho, bias_corrected=False)
    _check_nonnegative("adadelta", "eps", eps)
    if not callable(weight_decay):
        _check_nonnegative("adadelta", "weight_decay", weight_decay)
    return chain(adding.add_decayed_weights(weight_decay, mask=weight_decay_mask),
                 scaling.scale_by_adadelta(rho=rho, eps=eps),
                 transform.scale_by_learning_rate(learning_rate))


def adafactor(learning_rate: Optional[ScalarOrSchedule] = None,
              min_dim_size_to_factor: int = 128, decay_rate: float = 0.8,
              decay_offset: int = 0, multiply_by_parameter_scale: bool = True,
              clipping_threshold: Optional[float] = 1.0, momentum: Optional[float] = None,
              dtype_momentum: Any = lnp.float32,
              weight_decay_rate: Optional[ScalarOrSchedule] = None, eps: float = 1e-30,
              factored: bool = True, weight_decay_mask: Any = None
              ) -> GradientTransformationExtraArgs:
    """Adafactor (Shazeer & Stern, 2018): factored second moments (row and column
    statistics of large matrices), update clipping and parameter-scale-relative steps.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.adafactor(0.1)
    >>> p = lnp.full(2, 0.5)
    >>> opt.update(lnp.array([2., -2.]), opt.init(p), p)[0]
    Array([-0.05,  0.05], dtype=float32)
    """
    _check_learning_rate("adafactor", learning_rate)
    _check_momentum("adafactor", momentum)
    if clipping_threshold is not None:
        _check_nonnegative("adafactor", "clipping_threshold", clipping_threshold)
    _check_nonnegative("adafactor", "eps", eps)
    if not isinstance(min_dim_size_to_factor, int) or min_dim_size_to_factor < 0:
        raise ValueError(f"adafactor: min_dim_size_to_factor must be an int >= 0, got "
                         f"{min_dim_size_to_factor!r}")
    txs = [scaling.scale_by_factored_rms(factored, decay_rate, decay_offset,
                                         min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        txs.append(clipping.clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        txs.append(transform.scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        txs.append(scaling.scale_by_param_block_rms())
    if momentum is not None:
        txs.append(accumulation.ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        txs.append(adding.add_decayed_weights(weight_decay_rate, mask=weight_decay_mask))
    txs.append(transform.scale(-1))
    return chain(*txs)


def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-6, eps_root: float = 0.0, weight_decay: ScalarOrSchedule = 0.0,
         mask: Any = None) -> GradientTransformationExtraArgs:
    """LAMB (You et al., 2020): Adam steps (plus weight decay) rescaled per leaf by the
    trust ratio `||param|| / ||step||`, for large-batch training.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.lamb(0.1)
    >>> p = lnp.array([3., 4.])
    >>> opt.update(lnp.array([1., 1.]), opt.init(p), p)[0]
    Array([-0.3535534, -0.3535534], dtype=float32)
    """
    _adam_checks("lamb", learning_rate, b1, b2, eps, eps_root, weight_decay)
    return chain(transform.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
                 adding.add_decayed_weights(weight_decay=weight_decay, mask=mask),
                 scaling.scale_by_trust_ratio(),
                 transform.scale_by_learning_rate(learning_rate))


def lars(learning_rate: ScalarOrSchedule, weight_decay: ScalarOrSchedule = 0.0,
         weight_decay_mask: Any = True, trust_coefficient: float = 0.001, eps: float = 0.0,
         trust_ratio_mask: Any = True, momentum: float = 0.9,
         nesterov: bool = False) -> GradientTransformationExtraArgs:
    """LARS (You et al., 2017): SGD with momentum whose per-leaf step is scaled by the
    trust ratio `trust_coefficient * ||param|| / ||grad||`.

    The masks select the leaves that get weight decay and the trust ratio (True: all);
    they need `lamina.optim.masked`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.lars(1.0, trust_coefficient=1.0)
    >>> p = lnp.array([3., 4.])
    >>> opt.update(lnp.array([0., 2.]), opt.init(p), p)[0]
    Array([ 0., -5.], dtype=float32)
    """
    from lamina.optim.combine import masked  # NOTE: combine builds on transform.
    _check_learning_rate("lars", learning_rate)
    if not callable(weight_decay):
        _check_nonnegative("lars", "weight_decay", weight_decay)
    _check_nonnegative("lars", "trust_coefficient", trust_coefficient)
    _check_nonnegative("lars", "eps", eps)
    _check_momentum("lars", momentum)
    return chain(
        adding.add_decayed_weights(weight_decay, mask=weight_decay_mask),
        masked(scaling.scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
               trust_ratio_mask),
        transform.scale_by_learning_rate(learning_rate),
        accumulation.trace(decay=momentum, nesterov=nesterov))


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, centered: bool = False,
            momentum: Optional[float] = None, nesterov: bool = False,
            bias_correction: bool = False) -> GradientTransformationExtraArgs:
    """RMSProp (Tieleman & Hinton, 2012): divides by the root of a moving average of
    squared gradients; `centered=True` divides by the standard deviation instead;
    `momentum` adds a momentum trace after the learning rate.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.rmsprop(0.1, decay=0.75, eps=0.0)
    >>> opt.update(lnp.array([2.]), opt.init(lnp.zeros(1)))[0]
    Array([-0.2], dtype=float32)
    """
    _check_learning_rate("rmsprop", learning_rate)
    _check_decay("rmsprop", "decay", decay, bias_corrected=bias_correction)
    _check_nonnegative("rmsprop", "eps", eps)
    _check_nonnegative("rmsprop", "initial_scale", initial_scale)
    _check_momentum("rmsprop", momentum)
    scaler = transform.scale_by_stddev if centered else transform.scale_by_rms
    return chain(
        scaler(decay=decay, eps=eps, initial_scale=initial_scale, eps_in_sqrt=eps_in_sqrt,
               bias_correction=bias_correction),
        transform.scale_by_learning_rate(learning_rate),
        accumulation.trace(decay=momentum, nesterov=nesterov) if momentum is not None
        else identity())


def novograd(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.25,
             eps: float = 1e-6, eps_root: float = 0.0,
             weight_decay: float = 0.0) -> GradientTransformationExtraArgs:
    """NovoGrad (Ginsburg et al., 2019): layer-wise normalized gradients with momentum
    and weight decay. Needs `params`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.novograd(0.1, eps=0.0)
    >>> p = lnp.zeros(2)
    >>> opt.update(lnp.array([3., 4.]), opt.init(p), p)[0]
    Array([-0.06      , -0.08000001], dtype=float32)
    """
    _check_learning_rate("novograd", learning_rate)
    _check_decay("novograd", "b1", b1, bias_corrected=False)
    _check_decay("novograd", "b2", b2, bias_corrected=False)
    _check_nonnegative("novograd", "eps", eps)
    _check_nonnegative("novograd", "eps_root", eps_root)
    _check_nonnegative("novograd", "weight_decay", weight_decay)
    return chain(
        transform.scale_by_novograd(b1=b1, b2=b2, eps=eps, eps_root=eps_root,
                                    weight_decay=weight_decay),
        transform.scale_by_learning_rate(learning_rate))


def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """signSGD (Bernstein et al., 2018): steps of size `learning_rate` along the sign
    of the gradient.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.sign_sgd(0.1)
    >>> opt.update(lnp.array([3., -0.2]), opt.init(lnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    _check_learning_rate("sign_sgd", learning_rate)
    return chain(scaling.scale_by_sign(), transform.scale_by_learning_rate(learning_rate))


def noisy_sgd(learning_rate: ScalarOrSchedule, eta: float = 0.01, gamma: float = 0.55,
              key: Any = None, *, seed: Optional[int] = None
              ) -> GradientTransformationExtraArgs:
    """SGD with annealed Gaussian gradient noise of variance `eta / (1 + t)^gamma`
    (Neelakantan et al., 2014). Needs `lamina.random`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.noisy_sgd(0.1, key=0)
    >>> opt.update(lnp.zeros(2), opt.init(lnp.zeros(2)))[0].shape
    (2,)
    """
    _check_learning_rate("noisy_sgd", learning_rate)
    _check_nonnegative("noisy_sgd", "eta", eta)
    _check_nonnegative("noisy_sgd", "gamma", gamma)
    return chain(adding.add_noise(eta, gamma, key, seed=seed),
                 transform.scale_by_learning_rate(learning_rate))


def sm3(learning_rate: float, momentum: float = 0.9) -> GradientTransformationExtraArgs:
    """SM3 (Anil et al., 2019): memory-efficient adaptive steps with one accumulator
    per tensor axis. `learning_rate` must be a number (no schedules, as in optax).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.sm3(0.1, momentum=0.0)
    >>> opt.update(lnp.array([-2., 4.]), opt.init(lnp.zeros(2)))[0]
    Array([ 0.1, -0.1], dtype=float32)
    """
    if callable(learning_rate):
        raise TypeError("sm3: learning_rate must be a number, got a schedule; sm3 does "
                        "not support schedules (wrap it with optim.inject_hyperparams or "
                        "chain optim.scale_by_sm3 with optim.scale_by_learning_rate)")
    _check_learning_rate("sm3", learning_rate)
    _check_momentum("sm3", momentum)
    return chain(scaling.scale_by_sm3(momentum), transform.scale(-learning_rate))


def fromage(learning_rate: ScalarOrSchedule,
            min_norm: float = 1e-6) -> GradientTransformationExtraArgs:
    """Fromage (Bernstein et al., 2020): trust-ratio-scaled steps followed by a
    shrink of the params that keeps their norm from growing.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> opt = optim.fromage(0.75)
    >>> p = lnp.array([3., 4.])
    >>> opt.update(lnp.array([0., 1.]), opt.init(p), p)[0]
    Array([-0.6, -3.8], dtype=float32)
    """
    _check_learning_rate("fromage", learning_rate)
    _check_nonnegative("fromage", "min_norm", min_norm)
    if not callable(learning_rate):
        mult = 1 / (1 + learning_rate ** 2) ** 0.5
        return chain(scaling.scale_by_trust_ratio(min_norm),
                     transform.scale_by_learning_rate(learning_rate * mult),
                     adding.add_decayed_weights(mult - 1))

    def mult_lr(count):
        return 1 / (1 + learning_rate(count) ** 2) ** 0.5

    return chain(scaling.scale_by_trust_ratio(min_norm),
                 transform.scale_by_learning_rate(lambda c: mult_lr(c) * learning_rate(c)),
                 adding.add_decayed_weights(lambda c: mult_lr(c) - 1))
