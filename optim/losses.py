"""lamina.optim losses, mirroring `optax.losses` (0.2.8): names, signatures, numerics.

Every loss returns the per-example values (no reduction over the batch): take
`.mean()` yourself. Each is written so that `lamina.grad` gives the same gradients as
`jax.grad` of the optax loss, masked entries (`where=`) included.

>>> import lamina, lamina.numpy as lnp
>>> from lamina.optim import losses
>>> logits = lnp.array([[2., 1., 0.], [0., 0., 5.]])
>>> losses.softmax_cross_entropy_with_integer_labels(logits, lnp.array([0, 2]))
Array([0.4076059 , 0.01338577], dtype=float32)
>>> lamina.grad(lambda z: losses.l2_loss(z, lnp.zeros(2)).sum())(lnp.array([1., -2.]))
Array([ 1., -2.], dtype=float32)
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

import lamina.lax as lax
import lamina.numpy as lnp

__all__ = [
    "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
    "sigmoid_binary_cross_entropy", "sigmoid_focal_loss", "l2_loss", "squared_error",
    "huber_loss", "log_cosh", "hinge_loss", "cosine_similarity", "cosine_distance",
    "kl_divergence", "kl_divergence_with_log_targets", "smooth_labels", "ctc_loss",
    "ctc_loss_with_forward_probs",
]

# --------------------------------------------------------------------------------------
# Checks and the jax.nn pieces the losses are built from (private: lamina.nn owns the
# public activations)


def _describe(x: Any) -> str:
    return f"{lnp.result_type(x)}{list(np.shape(x))}"


def _check_floating(fn: str, arg: str, x: Any) -> None:
    if not lnp.issubdtype(lnp.result_type(x), lnp.floating):
        raise TypeError(f"lamina.optim.{fn}: `{arg}` must have a floating dtype, got "
                        f"{_describe(x)}; cast it, e.g. {arg}.astype(lnp.float32)")


def _check_integer(fn: str, arg: str, x: Any) -> None:
    if not lnp.issubdtype(lnp.result_type(x), lnp.integer):
        raise TypeError(f"lamina.optim.{fn}: `{arg}` must have an integer dtype (class "
                        f"indices), got {_describe(x)}; for one-hot or soft labels use "
                        f"softmax_cross_entropy")


def _check_same_shape(fn: str, names: tuple[str, str], a: Any, b: Any) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"lamina.optim.{fn}: `{names[0]}` and `{names[1]}` must have "
                         f"the same shape, got {np.shape(a)} and {np.shape(b)}")


def _check_rank(fn: str, arg: str, x: Any, rank: int) -> None:
    if np.ndim(x) != rank:
        raise ValueError(f"lamina.optim.{fn}: `{arg}` must have rank {rank}, got shape "
                         f"{np.shape(x)}")


def _canonical_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    return tuple(out)


def _log_softmax(x: Any, axis: Any = -1, where: Any = None) -> Any:
    # NOTE: same op sequence as jax.nn.log_softmax (stop_gradient on the max) so the
    # values and the gradients agree bit for bit in the common cases.
    x = lnp.asarray(x)
    x_max = lnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else lnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    result = shifted - lnp.log(lnp.sum(lnp.exp(shifted), axis, where=where, keepdims=True))
    return result if where is None else lnp.where(where, result, -np.inf)


def _logsumexp(a: Any, axis: Any = None, b: Any = None, where: Any = None) -> Any:
    # NOTE: jax.nn.logsumexp's sequence: a non-finite max is replaced by 0 so an
    # all-masked row gives log(0) = -inf, not nan.
    if where is not None:
        a = lnp.where(where, a, 0)
    a = lnp.asarray(a)
    if b is not None:
        dt = lnp.result_type(a, b)
        dt = dt if lnp.issubdtype(dt, lnp.inexact) else lnp.float32
        a, b = a.astype(dt), lnp.asarray(b).astype(dt)
        a = lnp.where(b != 0, a, -np.inf)
    elif not lnp.issubdtype(a.dtype, lnp.inexact):
        a = a.astype(lnp.float32)
    dims = _canonical_axes(axis, a.ndim)
    amax = lnp.max(a, axis=dims, keepdims=True, where=where, initial=-np.inf)
    amax = lax.stop_gradient(lnp.where(lnp.isfinite(amax), amax, lnp.zeros_like(amax)))
    exp_a = lnp.exp(a - amax.astype(a.dtype))
    if b is not None:
        exp_a = exp_a * b
    sumexp = exp_a.sum(axis=dims, where=where)
    sign = lnp.sign(sumexp)
    out = lnp.log(lnp.abs(sumexp)) + lnp.squeeze(amax, dims).astype(sumexp.dtype)
    if b is not None:
        out = lnp.where(sign < 0, lnp.array(np.nan, dtype=out.dtype), out)
    return out


def _log_sigmoid(x: Any) -> Any:
    return -lnp.logaddexp(-x, 0)


def _one_hot(x: Any, num_classes: int) -> Any:
    x = lnp.asarray(x)
    return (x[..., None] == lnp.arange(num_classes, dtype=x.dtype)).astype(lnp.float32)


# --------------------------------------------------------------------------------------
# Classification


def softmax_cross_entropy(logits: Any, labels: Any, axis: Any = -1,
                          where: Any = None) -> Any:
    """Cross entropy between `softmax(logits)` and a label distribution.

    Computes `-sum(labels * log_softmax(logits), axis)`.

    Args:
        logits: unnormalized log probabilities, e.g. `[..., num_classes]`.
        labels: probabilities (one-hot or soft) broadcastable to `logits`.
        axis: the class axis or axes (None: all axes).
        where: boolean mask of the classes to include; with fewer dims than `logits`
            it gets an axis inserted at `axis`.

    Returns:
        The loss per example, with `axis` reduced.

    >>> softmax_cross_entropy(lnp.array([[1., 2., 3.]]), lnp.array([[0., 0., 1.]]))
    Array([0.40760595], dtype=float32)
    """
    _check_floating("softmax_cross_entropy", "logits", logits)
    logits = lnp.asarray(logits)
    if where is not None and lnp.ndim(where) != logits.ndim:
        where = lnp.expand_dims(where, axis)
    log_probs = _log_softmax(logits, axis, where)
    return -(labels * log_probs).sum(axis, where=where)


def softmax_cross_entropy_with_integer_labels(logits: Any, labels: Any, axis: Any = -1,
                                              where: Any = None) -> Any:
    """Cross entropy between `softmax(logits)` and integer class labels.

    Args:
        logits: unnormalized log probabilities, e.g. `[batch, num_classes]`.
        labels: integer class indices with the shape of `logits` minus `axis`.
        axis: the class axis, or a tuple of axes (flattened into one class axis).
        where: boolean mask of the classes to include; rows with no class included
            give 0.

    Returns:
        The loss per example, shape `labels.shape`.

    >>> softmax_cross_entropy_with_integer_labels(lnp.array([[1., 2., 3.]]),
    ...                                           lnp.array([2]))
    Array([0.4076059], dtype=float32)
    """
    fn = "softmax_cross_entropy_with_integer_labels"
    _check_floating(fn, "logits", logits)
    _check_integer(fn, "labels", labels)
    logits, labels = lnp.asarray(logits), lnp.asarray(labels)
    if where is not None and lnp.ndim(where) != logits.ndim:
        where = lnp.expand_dims(where, axis)
    if isinstance(axis, int):
        axis = _canonical_axes(axis, logits.ndim)[0]
    elif isinstance(axis, tuple):
        # The class axes move to the end, in order, and are flattened into one.
        class_axes = _canonical_axes(axis, logits.ndim)
        batch_axes = tuple(a for a in range(logits.ndim) if a not in class_axes)
        perm = batch_axes + class_axes
        logits = logits.transpose(perm)
        logits = logits.reshape(logits.shape[:len(batch_axes)] + (-1,))
        if where is not None:
            where = lnp.asarray(where).transpose(perm)
            where = where.reshape(where.shape[:len(batch_axes)] + (-1,))
        axis = len(batch_axes)
    else:
        raise ValueError(f"lamina.optim.{fn}: `axis` must be an int or a tuple of ints, "
                         f"got {type(axis).__name__} {axis!r}")
    if labels.shape != logits.shape[:axis] + logits.shape[axis + 1:]:
        raise ValueError(f"lamina.optim.{fn}: `labels` must have the shape of `logits` "
                         f"without the class axis, got labels {labels.shape} for logits "
                         f"{logits.shape} (class axis {axis})")
    # NOTE: only the label's logit is gathered; the normalizer is subtracted from it
    # alone instead of from every class (optax's formulation, same gradients).
    label_logits = lnp.take_along_axis(logits, lnp.expand_dims(labels, axis), axis=axis)
    label_logits = label_logits.take(0, axis=axis)
    out = _logsumexp(logits, axis=axis, where=where) - label_logits
    if where is not None:
        out = lnp.where(lnp.any(where, axis), out, 0.0)
    return out


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """Elementwise binary cross entropy of `sigmoid(logits)` against `labels` in [0, 1].

    >>> sigmoid_binary_cross_entropy(lnp.array([0., 2.]), lnp.array([1., 0.]))
    Array([0.6931472, 2.126928 ], dtype=float32)
    """
    _check_floating("sigmoid_binary_cross_entropy", "logits", logits)
    logits = lnp.asarray(logits)
    labels = lnp.asarray(labels).astype(logits.dtype)
    # NOTE: log(1 - sigmoid(x)) is log_sigmoid(-x), which stays finite for large x.
    return -labels * _log_sigmoid(logits) - (1.0 - labels) * _log_sigmoid(-logits)


def sigmoid_focal_loss(logits: Any, labels: Any, *, alpha: Any = None,
                       gamma: Any = 2.0) -> Any:
    """Focal loss (Lin et al. 2017): binary cross entropy weighted by `(1 - p_t)**gamma`.

    Args:
        logits: elementwise logits.
        labels: targets in [0, 1] of the same shape.
        alpha: optional weight of the positive class (`1 - alpha` for negatives).
        gamma: focusing exponent; 0 gives plain sigmoid_binary_cross_entropy.

    >>> sigmoid_focal_loss(lnp.array([0., 2.]), lnp.array([1., 0.]), alpha=0.25)
    Array([0.0433217, 1.2375587], dtype=float32)
    """
    _check_floating("sigmoid_focal_loss", "logits", logits)
    logits = lnp.asarray(logits)
    labels = lnp.asarray(labels).astype(logits.dtype)
    ce = sigmoid_binary_cross_entropy(logits, labels)
    log_p, log_q = _log_sigmoid(logits), _log_sigmoid(-logits)
    # log(1 - p_t) = log((1 - y) p + y q), as a weighted logsumexp so it stays finite.
    log_one_minus_pt = _logsumexp(lnp.stack([log_p, log_q], axis=-1), axis=-1,
                                  b=lnp.stack([1 - labels, labels], axis=-1))
    loss = ce * lnp.exp(gamma * log_one_minus_pt)
    if alpha is None:
        return loss
    return (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss


def hinge_loss(predictor_outputs: Any, targets: Any) -> Any:
    """Hinge loss `max(0, 1 - outputs * targets)` for targets in {-1, 1}.

    >>> hinge_loss(lnp.array([0.5, 2., -1.]), lnp.array([1., 1., 1.]))
    Array([0.5, 0. , 2. ], dtype=float32)
    """
    return lnp.maximum(0, 1 - predictor_outputs * targets)


def kl_divergence(log_predictions: Any, targets: Any, axis: Any = -1,
                  where: Any = None) -> Any:
    """KL(targets || predictions) with predictions given as log probabilities.

    Computes `sum(targets * (log(targets) - log_predictions), axis)`, taking
    `0 * log 0 = 0`.

    >>> kl_divergence(lnp.log(lnp.array([0.5, 0.5])), lnp.array([1., 0.]))
    Array(0.6931472, dtype=float32)
    """
    _check_floating("kl_divergence", "log_predictions", log_predictions)
    _check_floating("kl_divergence", "targets", targets)
    loss = targets * (lnp.where(targets == 0, 0, lnp.log(targets)) - log_predictions)
    return lnp.sum(loss, axis=axis, where=where)


def kl_divergence_with_log_targets(log_predictions: Any, log_targets: Any,
                                   axis: Any = -1, where: Any = None) -> Any:
    """KL(targets || predictions) with both given as log probabilities.

    >>> kl_divergence_with_log_targets(lnp.log(lnp.array([0.5, 0.5])),
    ...                                lnp.log(lnp.array([0.9, 0.1])))
    Array(0.3680641, dtype=float32)
    """
    fn = "kl_divergence_with_log_targets"
    _check_floating(fn, "log_predictions", log_predictions)
    _check_floating(fn, "log_targets", log_targets)
    loss = lnp.exp(log_targets) * (log_targets - log_predictions)
    return lnp.sum(loss, axis=axis, where=where)


def smooth_labels(labels: Any, alpha: Any, *, axis: Any = -1, where: Any = None) -> Any:
    """Label smoothing: `(1 - alpha) * labels + alpha / num_categories`.

    Args:
        labels: one-hot (or soft) labels.
        alpha: smoothing factor in [0, 1].
        axis: the class axis or axes.
        where: classes to count in `num_categories` (per row).

    >>> smooth_labels(lnp.array([0., 1., 0., 0.]), 0.2)
    Array([0.05, 0.85, 0.05, 0.05], dtype=float32)
    """
    _check_floating("smooth_labels", "labels", labels)
    if where is None:
        num_categories = int(np.prod([np.shape(labels)[a] for a in
                                      _canonical_axes(axis, np.ndim(labels))]))
    else:
        num_categories = lnp.sum(where, axis, keepdims=True)
    return (1.0 - alpha) * labels + alpha / num_categories


# --------------------------------------------------------------------------------------
# Regression


def squared_error(predictions: Any, targets: Any = None) -> Any:
    """Elementwise `(predictions - targets)**2` (`targets=None` means zeros).

    >>> squared_error(lnp.array([1., 3.]), lnp.array([0., 1.]))
    Array([1., 4.], dtype=float32)
    """
    _check_floating("squared_error", "predictions", predictions)
    if targets is not None:
        # NOTE: equal shapes required: a broadcast here is almost always a bug.
        _check_same_shape("squared_error", ("predictions", "targets"), predictions,
                          targets)
    errors = predictions - targets if targets is not None else predictions
    return errors ** 2


def l2_loss(predictions: Any, targets: Any = None) -> Any:
    """Elementwise `0.5 * (predictions - targets)**2`.

    >>> l2_loss(lnp.array([1., 3.]), lnp.array([0., 1.]))
    Array([0.5, 2. ], dtype=float32)
    """
    return 0.5 * squared_error(lnp.asarray(predictions), targets)


def huber_loss(predictions: Any, targets: Any = None, *, delta: Any = 1.0) -> Any:
    """Huber loss: quadratic for errors up to `delta`, linear beyond.

    >>> huber_loss(lnp.array([0.5, 3.]), lnp.array([0., 0.]))
    Array([0.125, 2.5  ], dtype=float32)
    """
    _check_floating("huber_loss", "predictions", predictions)
    errors = predictions - targets if targets is not None else predictions
    abs_errors = lnp.abs(errors)
    quadratic = lnp.minimum(abs_errors, delta)
    # NOTE: `abs - min(abs, delta)` rather than max(abs - delta, 0): no doubled
    # gradient at |err| == delta.
    linear = abs_errors - quadratic
    return 0.5 * quadratic ** 2 + delta * linear


def log_cosh(predictions: Any, targets: Any = None) -> Any:
    """Elementwise `log(cosh(predictions - targets))`, overflow-free.

    >>> log_cosh(lnp.array([0., 1.]))
    Array([0.       , 0.4337808], dtype=float32)
    """
    _check_floating("log_cosh", "predictions", predictions)
    errors = lnp.asarray(predictions - targets if targets is not None else predictions)
    return lnp.logaddexp(errors, -errors) - lnp.log(2.0).astype(errors.dtype)


def cosine_similarity(predictions: Any, targets: Any, *, epsilon: Any = 0.0,
                      axis: Any = -1, where: Any = None) -> Any:
    """Cosine of the angle between `predictions` and `targets` along `axis`.

    Args:
        predictions, targets: floating arrays of the same shape.
        epsilon: lower bound on the squared norms (avoids dividing by zero).
        axis: the vector axis or axes.
        where: elements to include.

    >>> cosine_similarity(lnp.array([1., 0.]), lnp.array([1., 1.]))
    Array(0.70710677, dtype=float32)
    """
    _check_floating("cosine_similarity", "predictions", predictions)
    _check_floating("cosine_similarity", "targets", targets)
    a, b = lnp.asarray(predictions), lnp.asarray(targets)
    a_norm = lnp.sqrt(lnp.square(a).sum(axis=axis, where=where, keepdims=True).clip(epsilon))
    b_norm = lnp.sqrt(lnp.square(b).sum(axis=axis, where=where, keepdims=True).clip(epsilon))
    return ((a / a_norm) * (b / b_norm)).sum(axis=axis, where=where)


def cosine_distance(predictions: Any, targets: Any, *, epsilon: Any = 0.0,
                    axis: Any = -1, where: Any = None) -> Any:
    """`1 - cosine_similarity(predictions, targets)`.

    >>> cosine_distance(lnp.array([1., 0.]), lnp.array([0., 1.]))
    Array(1., dtype=float32)
    """
    _check_floating("cosine_distance", "predictions", predictions)
    _check_floating("cosine_distance", "targets", targets)
    return 1.0 - cosine_similarity(predictions, targets, epsilon=epsilon, axis=axis,
                                   where=where)


# --------------------------------------------------------------------------------------
# CTC


def ctc_loss_with_forward_probs(logits: Any, logit_paddings: Any, labels: Any,
                                label_paddings: Any, *, blank_id: int = 0,
                                log_epsilon: Any = -1e5) -> tuple[Any, Any, Any]:
    """Connectionist temporal classification loss, with the forward variables.

    Args:
        logits: `[B, T, K]` unnormalized log probabilities per frame.
        logit_paddings: `[B, T]`, 1.0 on padded frames, 0.0 on real ones.
        labels: `[B, N]` integer label sequences.
        label_paddings: `[B, N]`, 1.0 on padded labels.
        blank_id: the blank class.
        log_epsilon: a large negative number standing in for `log(0)`.

    Returns:
        `(per_seq_loss [B], logalpha_blank [T, B, N+1], logalpha_emit [T, B, N])`: the
        negative log likelihood per sequence, and the log forward probabilities of
        the states after a blank (`logalpha_blank[t, b, n]`: n labels emitted, last
        frame a blank) and after emitting label n.

    >>> logits = lnp.zeros((1, 3, 3))
    >>> loss, _, _ = ctc_loss_with_forward_probs(logits, lnp.zeros((1, 3)),
    ...                                          lnp.array([[1, 2]]), lnp.zeros((1, 2)))
    >>> loss
    Array([1.686399], dtype=float32)
    """
    fn = "ctc_loss"
    _check_rank(fn, "logits", logits, 3)
    _check_rank(fn, "labels", labels, 2)
    _check_same_shape(fn, ("labels", "label_paddings"), labels, label_paddings)
    _check_same_shape(fn, ("logits[..., 0]", "logit_paddings"), np.zeros(np.shape(logits)[:2]),
                      logit_paddings)
    batch, _, num_classes = np.shape(logits)
    label_batch, max_label_len = np.shape(labels)
    if label_batch != batch:
        raise ValueError(f"lamina.optim.{fn}: `labels` must have batch size {batch} "
                         f"(from logits), got {label_batch}")
    logprobs = _log_softmax(logits)
    labels = lnp.asarray(labels)
    label_lens = max_label_len - lnp.sum(label_paddings, axis=1).astype(lnp.int32)

    # repeat[b, n] == 1 where label n + 1 repeats label n: a blank must separate them.
    repeat = (labels[:, :-1] == labels[:, 1:]).astype(lnp.float32)
    repeat = lnp.pad(repeat, ((0, 0), (0, 1)))

    logprobs_blank = lnp.transpose(logprobs[:, :, blank_id:blank_id + 1], (1, 0, 2))
    one_hot = _one_hot(labels, num_classes)  # [B, N, K]
    logprobs_emit = lnp.transpose(lnp.einsum("btk,bnk->btn", logprobs, one_hot),
                                  (1, 0, 2))  # [T, B, N]

    blank_init = (lnp.ones((batch, max_label_len + 1)) * log_epsilon).at[:, 0].set(0.0)
    emit_init = lnp.ones((batch, max_label_len)) * log_epsilon

    def add_to_blank(blank: Any, score: Any) -> Any:
        # log-add `score` into states 1..N of `blank` (state 0 has emitted nothing).
        return lnp.concatenate([blank[:, :1], lnp.logaddexp(blank[:, 1:], score)], axis=-1)

    def step(carry: Any, x: Any) -> Any:
        prev_blank, prev_emit = carry
        logprob_emit, logprob_blank, pad = x
        prev_blank_orig = prev_blank
        # emit -> blank-state epsilon move, except before a repeated label.
        prev_blank = add_to_blank(prev_blank, prev_emit + log_epsilon * repeat)
        next_emit = lnp.logaddexp(prev_blank[:, :-1] + logprob_emit,
                                  prev_emit + logprob_emit)
        next_blank = prev_blank + logprob_blank
        # emit -> blank through an actual blank frame, only before a repeated label.
        next_blank = add_to_blank(next_blank,
                                  prev_emit + logprob_blank + log_epsilon * (1.0 - repeat))
        pad = pad.reshape((batch, 1))
        next_emit = pad * prev_emit + (1.0 - pad) * next_emit
        next_blank = pad * prev_blank_orig + (1.0 - pad) * next_blank
        return (next_blank, next_emit), (next_blank, next_emit)

    xs = (logprobs_emit, logprobs_blank, lnp.asarray(logit_paddings).transpose((1, 0)))
    _, (logalpha_blank, logalpha_emit) = lax.scan(step, (blank_init, emit_init), xs)

    # The final frame still takes the last emit -> blank epsilon move.
    last = add_to_blank(logalpha_blank[-1], logalpha_emit[-1])
    logalpha_blank = logalpha_blank.at[-1].set(last)
    per_seq_loss = -lnp.einsum("bn,bn->b", last, _one_hot(label_lens, max_label_len + 1))
    return per_seq_loss, logalpha_blank, logalpha_emit


def ctc_loss(logits: Any, logit_paddings: Any, labels: Any, label_paddings: Any, *,
             blank_id: int = 0, log_epsilon: Any = -1e5) -> Any:
    """CTC loss per sequence (see `ctc_loss_with_forward_probs` for the arguments).

    >>> ctc_loss(lnp.zeros((1, 3, 3)), lnp.zeros((1, 3)), lnp.array([[1, 2]]),
    ...          lnp.zeros((1, 2)))
    Array([1.686399], dtype=float32)
    """
    return ctc_loss_with_forward_probs(logits, logit_paddings, labels, label_paddings,
                                       blank_id=blank_id, log_epsilon=log_epsilon)[0]
