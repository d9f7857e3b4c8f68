"""Normalization layers (flax.linen.normalization): BatchNorm, LayerNorm, RMSNorm,
GroupNorm, InstanceNorm.

Numerics follow Flax: statistics are reduced in float32 at least (`mean` and
`var = max(0, E[x^2] - E[x]^2)` with the default fast variance), `y = (x - mean) *
rsqrt(var + epsilon) * scale + bias`, and the output dtype is promoted from the input and
the parameters unless `dtype` is given. Parameters are `scale` and `bias` of the feature
shape; BatchNorm keeps its running statistics `mean` / `var` in the `'state'` collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import lamina.numpy as lnp
from lamina import lax
from lamina.nn import initializers
from lamina.nn.precision import compute_dtype
from lamina.nn.module import Module

__all__ = ["BatchNorm", "LayerNorm", "RMSNorm", "GroupNorm", "InstanceNorm"]

Axes = int | Sequence[int]


def _canonicalize_axes(rank: int, axes: Axes, layer: str, what: str) -> tuple[int, ...]:
    if not isinstance(axes, Iterable):
        axes = (axes,)
    out = []
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise ValueError(f"nn.{layer}: {what} contains axis {a}, out of range for inputs "
                             f"of rank {rank}")
        out.append(a % rank)
    return tuple(sorted(set(out)))


def _abs_sq(x: Any) -> Any:
    if lnp.iscomplexobj(x):
        return lax.square(lnp.real(x)) + lax.square(lnp.imag(x))
    return lax.square(x)


def _compute_stats(x: Any, axes: tuple[int, ...], dtype: Any, axis_name: Any = None,
                   axis_index_groups: Any = None, use_mean: bool = True,
                   use_fast_variance: bool = True, mask: Any = None,
                   force_float32_reductions: bool = True) -> tuple[Any, Any]:
    """Mean and variance of `x` over `axes` (and over `axis_name` devices when given)."""
    if dtype is None:
        dtype = lnp.result_type(x)
    if force_float32_reductions:
        dtype = lnp.promote_types(dtype, lnp.float32)
    x = lnp.asarray(x, dtype)
    if mask is not None:
        mask = lnp.asarray(mask, dtype=bool)

    def mean(*xs: Any) -> Any:
        if mask is None:
            mus = tuple(lnp.mean(v, axis=axes) for v in xs)
        else:
            mus = tuple(lnp.mean(v, axis=axes, where=mask) for v in xs)
        if axis_name is not None:
            # NOTE: one collective for all the moments (fewer all-reduces on devices).
            stacked = lax.pmean(lnp.stack(mus), axis_name, axis_index_groups=axis_index_groups)
            mus = tuple(stacked[i] for i in range(len(xs)))
        return mus if len(xs) > 1 else mus[0]

    if not use_mean:
        var = mean(_abs_sq(x))
        return lnp.zeros_like(var), var
    if use_fast_variance:
        mu, mu2 = mean(x, _abs_sq(x))
        # NOTE: E[x^2] - E[x]^2 can dip below 0 by rounding; clamp as Flax does.
        return mu, lnp.maximum(0.0, mu2 - _abs_sq(mu))
    mu = mean(x)
    return mu, mean(_abs_sq(x - lnp.expand_dims(mu, axes)))


def _normalize(module: Module, x: Any, mean: Any, var: Any, reduction_axes: tuple[int, ...],
               feature_axes: tuple[int, ...], dtype: Any, param_dtype: Any, epsilon: float,
               use_bias: bool, use_scale: bool, bias_init: Callable[..., Any],
               scale_init: Callable[..., Any], force_float32_reductions: bool = True) -> Any:
    """`(x - mean) * rsqrt(var + eps) * scale + bias`; creates the `scale`/`bias` params."""
    feature_shape = [1] * x.ndim
    param_shape = []
    for ax in feature_axes:
        feature_shape[ax] = x.shape[ax]
        param_shape.append(x.shape[ax])
    mean = lnp.expand_dims(mean, reduction_axes)
    var = lnp.expand_dims(var, reduction_axes)
    y = x - mean
    mul = lax.rsqrt(var + epsilon)
    args = [x]
    if use_scale:
        scale = module.param("scale", scale_init, tuple(param_shape), param_dtype)
        scale = scale.reshape(feature_shape)
        if not force_float32_reductions:
            scale = lnp.asarray(scale, param_dtype)
        mul = mul * scale
        args.append(scale)
    y = y * mul
    if use_bias:
        bias = module.param("bias", bias_init, tuple(param_shape), param_dtype)
        bias = bias.reshape(feature_shape)
        if not force_float32_reductions:
            bias = lnp.asarray(bias, param_dtype)
        y = y + bias
        args.append(bias)
    return lnp.asarray(y, compute_dtype(dtype, *args))


class BatchNorm(Module):
    """Batch normalization (flax.linen.BatchNorm) with running statistics in `'state'`.

    In training (`apply(..., train=True, mutable=True)`, or `use_running_average=False`)
    the layer normalizes with the batch statistics (reduced over every axis but `axis`,
    and over the devices of `axis_name` under `pmap`/`vmap(axis_name=...)`) and updates
    `state['mean'] = momentum * mean + (1 - momentum) * batch_mean` (likewise `var`). In
    evaluation it normalizes with the running statistics.

    Attributes:
        use_running_average: if set, overrides the `train` flag (True: eval mode).
        axis: the feature axis (or axes); default -1.
        momentum: the decay of the running averages (0.99).
        epsilon: added to the variance (1e-5).
        dtype, param_dtype: compute dtype (None: promoted) and parameter dtype.
        use_bias, use_scale: learn `bias` (init zeros) and `scale` (init ones).
        axis_name: the mapped axis to average the statistics over (cross-device BN).
        axis_index_groups: groups of devices along `axis_name` reduced separately.
        use_fast_variance: `E[x^2] - E[x]^2` (True) or the two-pass `E[(x - mean)^2]`.
        force_float32_reductions: reduce in float32 at least.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> bn = nn.BatchNorm()
    >>> x = lnp.arange(8.0).reshape(4, 2)
    >>> variables = bn.init(lamina.random.key(0), x)
    >>> sorted(variables["state"])
    ['mean', 'var']
    >>> y, state = bn.apply(variables, x, train=True, mutable=True)
    >>> state["state"]["mean"]
    Array([0.03, 0.04], dtype=float32)
    """

    use_running_average: bool | None = None
    axis: Axes = -1
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = lnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable[..., Any] = initializers.zeros
    scale_init: Callable[..., Any] = initializers.ones
    axis_name: Any = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    def __call__(self, x: Any, use_running_average: bool | None = None, *,
                 mask: Any = None) -> Any:
        """Normalize `x`; `use_running_average` overrides the field and the train flag."""
        if self.use_running_average is not None and use_running_average is not None:
            raise ValueError(
                "nn.BatchNorm: use_running_average was given both as a field "
                f"({self.use_running_average}) and as a call argument ({use_running_average}); "
                "give it in one place only")
        use_ra = use_running_average
        if use_ra is None:
            use_ra = self.use_running_average
        if use_ra is None:
            use_ra = not self.is_training
        x = lnp.asarray(x)
        feature_axes = _canonicalize_axes(x.ndim, self.axis, "BatchNorm", "axis")
        reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)
        feature_shape = tuple(x.shape[a] for a in feature_axes)
        stat_dtype = lnp.float32 if self.force_float32_reductions else self.param_dtype
        ra_mean = self.variable("state", "mean", lambda s: lnp.zeros(s, stat_dtype),
                                feature_shape)
        ra_var = self.variable("state", "var", lambda s: lnp.ones(s, stat_dtype),
                               feature_shape)
        if use_ra:
            mean, var = ra_mean.value, ra_var.value
            if not self.force_float32_reductions:
                mean = lnp.asarray(mean, self.param_dtype)
                var = lnp.asarray(var, self.param_dtype)
        else:
            initializing = self.is_initializing()
            mean, var = _compute_stats(
                x, reduction_axes, dtype=self.dtype,
                # NOTE: init runs outside the mapped axis, so no collective there.
                axis_name=None if initializing else self.axis_name,
                axis_index_groups=self.axis_index_groups,
                use_fast_variance=self.use_fast_variance, mask=mask,
                force_float32_reductions=self.force_float32_reductions)
            if not initializing:
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return _normalize(self, x, mean, var, reduction_axes, feature_axes, self.dtype,
                          self.param_dtype, self.epsilon, self.use_bias, self.use_scale,
                          self.bias_init, self.scale_init, self.force_float32_reductions)


class LayerNorm(Module):
    """Layer normalization (flax.linen.LayerNorm): statistics over `reduction_axes` of each
    example; `scale`/`bias` of the `feature_axes` shape.

    Attributes:
        epsilon: added to the variance (1e-6).
        dtype, param_dtype: compute dtype (None: promoted) and parameter dtype.
        use_bias, use_scale: learn `bias` (zeros) and `scale` (ones).
        reduction_axes: the axes to normalize over (default -1).
        feature_axes: the axes the parameters span (default -1).
        axis_name, axis_index_groups: reduce the statistics over mapped devices too.
        use_fast_variance, force_float32_reductions: as in `BatchNorm`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> ln = nn.LayerNorm()
    >>> x = lnp.array([[1.0, 2.0, 3.0]])
    >>> ln.apply(ln.init(lamina.random.key(0), x), x).round(3)
    Array([[-1.225,  0.   ,  1.225]], dtype=float32)
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = lnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable[..., Any] = initializers.zeros
    scale_init: Callable[..., Any] = initializers.ones
    reduction_axes: Axes = -1
    feature_axes: Axes = -1
    axis_name: Any = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    def __call__(self, x: Any, *, mask: Any = None) -> Any:
        """Normalize `x` over `reduction_axes`."""
        x = lnp.asarray(x)
        red = _canonicalize_axes(x.ndim, self.reduction_axes, "LayerNorm", "reduction_axes")
        feat = _canonicalize_axes(x.ndim, self.feature_axes, "LayerNorm", "feature_axes")
        mean, var = _compute_stats(x, red, self.dtype, self.axis_name, self.axis_index_groups,
                                   use_fast_variance=self.use_fast_variance, mask=mask,
                                   force_float32_reductions=self.force_float32_reductions)
        return _normalize(self, x, mean, var, red, feat, self.dtype, self.param_dtype,
                          self.epsilon, self.use_bias, self.use_scale, self.bias_init,
                          self.scale_init, self.force_float32_reductions)


class RMSNorm(Module):
    """Root-mean-square normalization (flax.linen.RMSNorm): `x * rsqrt(mean(x^2) + eps) *
    scale`, no centring and no bias.

    Attributes:
        epsilon (1e-6), dtype, param_dtype, use_scale, scale_init, reduction_axes,
        feature_axes, axis_name, axis_index_groups, use_fast_variance,
        force_float32_reductions: as in `LayerNorm`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> norm = nn.RMSNorm()
    >>> x = lnp.array([[3.0, 4.0]])
    >>> [round(v, 4) for v in norm.apply(norm.init(lamina.random.key(0), x), x)[0].tolist()]
    [0.8485, 1.1314]
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = lnp.float32
    use_scale: bool = True
    scale_init: Callable[..., Any] = initializers.ones
    reduction_axes: Axes = -1
    feature_axes: Axes = -1
    axis_name: Any = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    def __call__(self, x: Any, *, mask: Any = None) -> Any:
        """Normalize `x` by its root mean square over `reduction_axes`."""
        x = lnp.asarray(x)
        red = _canonicalize_axes(x.ndim, self.reduction_axes, "RMSNorm", "reduction_axes")
        feat = _canonicalize_axes(x.ndim, self.feature_axes, "RMSNorm", "feature_axes")
        mean, var = _compute_stats(x, red, self.dtype, self.axis_name, self.axis_index_groups,
                                   use_mean=False, use_fast_variance=self.use_fast_variance,
                                   mask=mask,
                                   force_float32_reductions=self.force_float32_reductions)
        return _normalize(self, x, mean, var, red, feat, self.dtype, self.param_dtype,
                          self.epsilon, False, self.use_scale, initializers.zeros,
                          self.scale_init, self.force_float32_reductions)


class GroupNorm(Module):
    """Group normalization (flax.linen.GroupNorm): the channels (last axis) are split into
    `num_groups` groups (or groups of `group_size`), each normalized over the
    `reduction_axes` (default: every non-batch axis, i.e. all but the first).

    Attributes:
        num_groups: the number of groups (32); pass None to give `group_size` instead.
        group_size: channels per group.
        epsilon (1e-6), dtype, param_dtype, use_bias, use_scale, bias_init, scale_init,
        axis_name, axis_index_groups, use_fast_variance, force_float32_reductions: as in
        `LayerNorm`.
        reduction_axes: must include the last axis; default `(1, ..., ndim - 1)`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> gn = nn.GroupNorm(num_groups=2)
    >>> x = lnp.array([[1.0, 3.0, 10.0, 20.0]])
    >>> gn.apply(gn.init(lamina.random.key(0), x), x).round(3)
    Array([[-1., 1., -1., 1.]], dtype=float32)
    """

    num_groups: int | None = 32
    group_size: int | None = None
    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = lnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable[..., Any] = initializers.zeros
    scale_init: Callable[..., Any] = initializers.ones
    reduction_axes: Axes | None = None
    axis_name: Any = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    def __call__(self, x: Any, *, mask: Any = None) -> Any:
        """Normalize each group of channels of `x`."""
        x = lnp.asarray(x)
        red = (self.reduction_axes if self.reduction_axes is not None
               else list(range(1, x.ndim - 1)) + [-1])
        red = _canonicalize_axes(x.ndim, red, "GroupNorm", "reduction_axes")
        if not red or red[-1] != x.ndim - 1:
            raise ValueError(
                f"nn.GroupNorm: reduction_axes {self.reduction_axes!r} must include the last "
                "axis (the feature axis)")
        if (self.num_groups is None) == (self.group_size is None):
            raise ValueError(
                "nn.GroupNorm: give exactly one of num_groups and group_size (to use "
                "group_size, pass num_groups=None to override the default 32); got "
                f"num_groups={self.num_groups}, group_size={self.group_size}")
        channels = x.shape[-1]
        if self.group_size is not None:
            if channels % self.group_size:
                raise ValueError(f"nn.GroupNorm: {channels} channels are not a multiple of "
                                 f"group_size={self.group_size}")
            num_groups = channels // self.group_size
        else:
            num_groups = self.num_groups
        if num_groups <= 0 or channels % num_groups:
            raise ValueError(f"nn.GroupNorm: num_groups={num_groups} does not divide the "
                             f"{channels} channels of inputs with shape {tuple(x.shape)}")
        group_size = channels // num_groups
        grouped = x.reshape(x.shape[:-1] + (num_groups, group_size))
        if mask is not None:
            mask = lnp.asarray(mask).reshape(mask.shape[:-1] + (num_groups, group_size))
        mean, var = _compute_stats(grouped, tuple(red[:-1]) + (x.ndim,), self.dtype,
                                   self.axis_name, self.axis_index_groups,
                                   use_fast_variance=self.use_fast_variance, mask=mask,
                                   force_float32_reductions=self.force_float32_reductions)
        mean = lnp.repeat(mean, group_size, axis=-1)
        var = lnp.repeat(var, group_size, axis=-1)
        return _normalize(self, x, mean, var, tuple(red[:-1]), (x.ndim - 1,), self.dtype,
                          self.param_dtype, self.epsilon, self.use_bias, self.use_scale,
                          self.bias_init, self.scale_init, self.force_float32_reductions)


class InstanceNorm(Module):
    """Instance normalization (flax.linen.InstanceNorm): each example and channel is
    normalized over the remaining (spatial) axes; axis 0 is the batch.

    Attributes:
        epsilon (1e-6), dtype, param_dtype, use_bias, use_scale, bias_init, scale_init,
        axis_name, axis_index_groups, use_fast_variance, force_float32_reductions: as in
        `LayerNorm`.
        feature_axes: the channel axes (default -1); must not include 0.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> norm = nn.InstanceNorm()
    >>> x = lnp.array([[[1.0], [3.0]]])
    >>> norm.apply(norm.init(lamina.random.key(0), x), x)[..., 0].round(3)
    Array([[-1.,  1.]], dtype=float32)
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = lnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable[..., Any] = initializers.zeros
    scale_init: Callable[..., Any] = initializers.ones
    feature_axes: Axes = -1
    axis_name: Any = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True
    force_float32_reductions: bool = True

    def __call__(self, x: Any, *, mask: Any = None) -> Any:
        """Normalize `x` per example and channel."""
        x = lnp.asarray(x)
        feat = _canonicalize_axes(x.ndim, self.feature_axes, "InstanceNorm", "feature_axes")
        if 0 in feat:
            raise ValueError("nn.InstanceNorm: feature_axes must not include axis 0 (the "
                             f"batch axis); got {self.feature_axes!r}")
        red = tuple(i for i in range(1, x.ndim) if i not in feat)
        mean, var = _compute_stats(x, red, self.dtype, self.axis_name, self.axis_index_groups,
                                   use_fast_variance=self.use_fast_variance, mask=mask,
                                   force_float32_reductions=self.force_float32_reductions)
        return _normalize(self, x, mean, var, red, feat, self.dtype, self.param_dtype,
                          self.epsilon, self.use_bias, self.use_scale, self.bias_init,
                          self.scale_init, self.force_float32_reductions)
