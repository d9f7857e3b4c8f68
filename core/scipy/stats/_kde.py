"""Gaussian kernel density estimation (`jax.scipy.stats.gaussian_kde`).

A `gaussian_kde` is an immutable pytree (leaves: `neff`, `dataset`, `weights`,
`covariance`, `inv_cov`), so it can be passed into `jit`, `vmap` and `grad`.

>>> import lamina.numpy as lnp
>>> from lamina.scipy.stats import gaussian_kde
>>> kde = gaussian_kde(lnp.array([-1., 0., 2.]))
>>> kde.evaluate(lnp.array([0., 1.]))
Array([0.21489538, 0.18421534], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, random
from lamina._api_jit import jit
from lamina.numpy._util import check_arraylike, is_lamina_array, promote_dtypes_inexact
from lamina.scipy import linalg, special
from lamina.tree_util import register_pytree_node_class

__all__ = ["gaussian_kde"]

_NAME = "lamina.scipy.stats.gaussian_kde"
_FIELDS = ("neff", "dataset", "weights", "covariance", "inv_cov")


def _reject_complex(what: str, x: Any) -> None:
    if dtypes.issubdtype(lnp.result_type(x), np.complexfloating):
        raise NotImplementedError(f"{_NAME}: complex {what} is not supported")


def _is_scalar(x: Any) -> bool:
    if dtypes.is_python_scalar(x):
        return True
    array = is_lamina_array(x) or isinstance(x, (np.ndarray, np.generic))
    return array and x.ndim == 0


@register_pytree_node_class
@dataclass(frozen=True, init=False, slots=True)
class gaussian_kde:
    """Kernel density estimate of a distribution from samples, with a Gaussian kernel
    (`scipy.stats.gaussian_kde`, as `jax.scipy.stats.gaussian_kde`).

    Args:
      dataset: real samples, `[n]` for 1-d data or `[d, n]` (one column a point).
      bw_method: how the kernel bandwidth factor is chosen: `'scott'` (the default,
        `neff ** (-1 / (d + 4))`), `'silverman'`
        (`(neff * (d + 2) / 4) ** (-1 / (d + 4))`),
        a scalar factor, or a callable taking the partly built kde (`dataset`,
        `weights`, `neff`, `d`, `n` are set) and returning the factor.
      weights: optional `[n]` sample weights (normalised to sum to one); uniform if
        None.

    Attributes:
      d, n: the data dimension and the number of samples.
      neff: the effective number of samples, `1 / sum(weights ** 2)`.
      dataset, weights: the `[d, n]` samples and their normalised `[n]` weights.
      covariance, inv_cov: the `[d, d]` kernel covariance (the weighted data
        covariance times the squared factor) and its inverse.

    Raises:
      TypeError: for a non-array `dataset` or `weights` (a list, say).
      NotImplementedError: for complex data.
      ValueError: for a dataset of more than two dimensions or fewer than two
        elements, weights that are not `[n]`, or an unknown `bw_method`.

    >>> import lamina, lamina.numpy as lnp
    >>> data = lnp.array([[0., 1., 3.], [1., 0., 2.]])
    >>> kde = gaussian_kde(data, bw_method="silverman")
    >>> kde.d, kde.n
    (2, 3)
    >>> kde.logpdf(lnp.array([1., 1.]))
    Array([-2.5757136], dtype=float32)
    >>> kde.resample(lamina.random.PRNGKey(0), (4,)).shape
    (2, 4)
    """
    neff: Any
    dataset: Any
    weights: Any
    covariance: Any
    inv_cov: Any

    def __init__(self, dataset: Any, bw_method: Any = None, weights: Any = None):
        check_arraylike(_NAME, dataset)
        _reject_complex("data", dataset)
        dataset = lnp.atleast_2d(dataset)
        if dataset.ndim != 2:
            raise ValueError(f"{_NAME}: dataset must be [n] or [d, n], got shape "
                             f"{dataset.shape}")
        if dataset.size <= 1:
            raise ValueError(f"{_NAME}: dataset must have more than one element, got "
                             f"shape {dataset.shape}")
        d, n = dataset.shape
        if weights is None:
            dataset, = promote_dtypes_inexact(dataset)
            weights = lnp.full(n, 1.0 / n, dtype=dataset.dtype)
        else:
            check_arraylike(_NAME, weights)
            _reject_complex("weights", weights)
            dataset, weights = promote_dtypes_inexact(dataset, weights)
            weights = lnp.atleast_1d(weights)
            if weights.shape != (n,):
                raise ValueError(f"{_NAME}: weights must be one-dimensional of length "
                                 f"n = {n}, got shape {weights.shape}")
            weights = weights / lnp.sum(weights)
        self._init("dataset", dataset)
        self._init("weights", weights)
        neff = self._init("neff", 1 / lnp.sum(weights ** 2))

        if bw_method is None:
            bw_method = "scott"
        if isinstance(bw_method, str):
            if bw_method == "scott":
                factor = lnp.power(neff, -1. / (d + 4))
            elif bw_method == "silverman":
                factor = lnp.power(neff * (d + 2) / 4.0, -1. / (d + 4))
            else:
                raise ValueError(f"{_NAME}: bw_method must be 'scott', 'silverman', a "
                                 f"scalar or a callable, got {bw_method!r}")
        elif callable(bw_method):
            factor = bw_method(self)
        elif _is_scalar(bw_method):
            factor = bw_method
        else:
            raise ValueError(f"{_NAME}: bw_method must be 'scott', 'silverman', a "
                             f"scalar or a callable, got {bw_method!r}")

        covariance, inv_cov = _kernel_covariance(dataset, weights, factor)
        self._init("covariance", covariance)
        self._init("inv_cov", inv_cov)

    def _init(self, name: str, value: Any) -> Any:
        # The dataclass is frozen: construction and unflattening write through object.
        object.__setattr__(self, name, value)
        return value

    def tree_flatten(self) -> tuple[tuple[Any, ...], None]:
        return tuple(getattr(self, f) for f in _FIELDS), None

    @classmethod
    def tree_unflatten(cls, aux_data: None, children: Sequence[Any]) -> gaussian_kde:
        del aux_data
        kde = object.__new__(cls)
        for name, value in zip(_FIELDS, children):
            kde._init(name, value)
        return kde

    @property
    def d(self) -> int:
        """The data dimension."""
        return self.dataset.shape[0]

    @property
    def n(self) -> int:
        """The number of samples."""
        return self.dataset.shape[1]

    def evaluate(self, points: Any) -> Any:
        """The estimated density at `points` (`[d, m]`, `[m]` when `d == 1`, or a
        single `[d]` point): an `[m]` array.

        >>> import lamina.numpy as lnp
        >>> gaussian_kde(lnp.array([0., 1.])).evaluate(0.5)
        Array([0.46598002], dtype=float32)
        """
        points = self._points("evaluate", points)
        return _kernel_sum(False, self.dataset, self.weights, points, self.inv_cov)

    def __call__(self, points: Any) -> Any:
        """`evaluate(points)`."""
        return self.evaluate(points)

    def pdf(self, x: Any) -> Any:
        """The density at `x`, as `evaluate`."""
        return self.evaluate(x)

    def logpdf(self, x: Any) -> Any:
        """The log density at `x`, through a log-sum-exp over the samples (accurate
        far from the data, where `pdf` underflows).

        >>> import lamina.numpy as lnp
        >>> gaussian_kde(lnp.array([0., 1.])).logpdf(50.)
        Array([-3169.2656], dtype=float32)
        """
        x = self._points("logpdf", x)
        return _kernel_sum(True, self.dataset, self.weights, x, self.inv_cov)

    def integrate_gaussian(self, mean: Any, cov: Any) -> Any:
        """The integral of the density times the normal density `N(mean, cov)`
        (`mean` `[d]`, `cov` `[d, d]`).

        >>> import lamina.numpy as lnp
        >>> gaussian_kde(lnp.array([0., 1.])).integrate_gaussian(0., 1.)
        Array(0.28807145, dtype=float32)
        """
        check_arraylike(f"{_NAME}.integrate_gaussian", mean, cov)
        mean = lnp.atleast_1d(lnp.squeeze(mean))
        cov = lnp.atleast_2d(cov)
        if mean.shape != (self.d,):
            raise ValueError(f"{_NAME}.integrate_gaussian: mean must have shape "
                             f"({self.d},), got {mean.shape}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"{_NAME}.integrate_gaussian: cov must have shape "
                             f"({self.d}, {self.d}), got {cov.shape}")
        return _convolve(self.covariance + cov, self.dataset, self.weights,
                         mean[:, None])[0]

    def integrate_box_1d(self, low: Any, high: Any) -> Any:
        """The probability mass between scalars `low` and `high` (1-d data only).

        >>> import lamina.numpy as lnp
        >>> gaussian_kde(lnp.array([0., 1.])).integrate_box_1d(-1., 2.)
        Array(0.94728684, dtype=float32)
        """
        if self.d != 1:
            raise ValueError(f"{_NAME}.integrate_box_1d: only 1-d data is supported, "
                             f"this kde has d = {self.d}")
        if lnp.ndim(low) != 0 or lnp.ndim(high) != 0:
            raise ValueError(f"{_NAME}.integrate_box_1d: low and high must be scalars, "
                             f"got shapes {lnp.shape(low)} and {lnp.shape(high)}")
        return _box_1d(self, low, high)

    def integrate_kde(self, other: gaussian_kde) -> Any:
        """The integral of the product of this density and `other`'s.

        >>> import lamina.numpy as lnp
        >>> kde = gaussian_kde(lnp.array([0., 1.]))
        >>> kde.integrate_kde(kde)
        Array(0.34758857, dtype=float32)
        """
        if not isinstance(other, gaussian_kde):
            raise TypeError(f"{_NAME}.integrate_kde: other must be a gaussian_kde, got "
                            f"{type(other).__name__}")
        if other.d != self.d:
            raise ValueError(f"{_NAME}.integrate_kde: the kdes have different "
                             f"dimensions ({self.d} and {other.d})")
        # The smaller kde's samples are the centres (all in one batched solve).
        small, large = (self, other) if self.n < other.n else (other, self)
        per_centre = _convolve(self.covariance + other.covariance, large.dataset,
                               large.weights, small.dataset)
        return lnp.sum(per_centre * small.weights)

    def resample(self, key: Any, shape: Sequence[int] = ()) -> Any:
        """Draw `shape` samples from the estimate: a sample index by `weights`, plus
        normal noise with the kernel covariance. Returns `[d, *shape]`.

        The key is split in two as jax's is (indices, then noise), so a jax key gives
        jax's draws.

        >>> import lamina, lamina.numpy as lnp
        >>> kde = gaussian_kde(lnp.array([0., 10.]))
        >>> kde.resample(lamina.random.PRNGKey(1), (3,)).shape
        (1, 3)
        """
        if isinstance(shape, (int, np.integer)) or not isinstance(shape, Sequence):
            raise TypeError(f"{_NAME}.resample: shape must be a tuple of integers, got "
                            f"{shape!r}")
        return _resample(self, key, tuple(shape))

    def integrate_box(self, low_bounds: Any, high_bounds: Any,
                      maxpts: Any = None) -> Any:
        """Not supported (as in jax): only `integrate_box_1d` is."""
        del low_bounds, high_bounds, maxpts
        raise NotImplementedError(f"{_NAME}.integrate_box: only 1-d box integrals are "
                                  "supported; use integrate_box_1d")

    def set_bandwidth(self, bw_method: Any = None) -> None:
        """Not supported (as in jax): a kde is immutable; build a new one instead."""
        del bw_method
        raise NotImplementedError(f"{_NAME}.set_bandwidth: the bandwidth cannot be "
                                  "changed; build a new gaussian_kde with bw_method")

    def _points(self, fun: str, points: Any) -> Any:
        check_arraylike(f"{_NAME}.{fun}", points)
        _reject_complex("points", points)
        points = lnp.atleast_2d(points)
        if points.ndim != 2:
            raise ValueError(f"{_NAME}.{fun}: points must be [d, m], [m] or [d], got "
                             f"shape {points.shape}")
        d, m = points.shape
        if d != self.d:
            if d == 1 and m == self.d:
                return lnp.reshape(points, (self.d, 1))
            raise ValueError(f"{_NAME}.{fun}: points have dimension {d}, the dataset "
                             f"has dimension {self.d}")
        return points


@jit
def _kernel_covariance(dataset: Any, weights: Any, factor: Any) -> tuple[Any, Any]:
    """The weighted data covariance and its inverse, scaled by `factor ** 2` and
    `factor ** -2`."""
    data_cov = lnp.atleast_2d(lnp.cov(dataset, rowvar=True, bias=False,
                                      aweights=weights))
    return data_cov * factor ** 2, lnp.linalg.inv(data_cov) / factor ** 2


@jit
def _convolve(cov: Any, samples: Any, weights: Any, centres: Any) -> Any:
    """For each column `c` of `centres` (`[d, k]`), the normal density `N(c, cov)`
    averaged over the `[d, n]` samples with `weights`; `[k]`."""
    d, n = samples.shape
    k = centres.shape[1]
    factor = linalg.cho_factor(cov)
    # 1 / sqrt(det(2 pi cov)) from the Cholesky factor's diagonal.
    scale = 1.0 / (np.sqrt(2 * np.pi) ** d * lnp.prod(lnp.diagonal(factor[0])))
    diff = lnp.reshape(samples[:, :, None] - centres[:, None, :], (d, n * k))
    solved = linalg.cho_solve(factor, diff)
    arg = lnp.reshape(0.5 * lnp.sum(diff * solved, axis=0), (n, k))
    return scale * lnp.sum(lnp.exp(-arg) * weights[:, None], axis=0)


@jit(static_argnums=0)
def _kernel_sum(in_log: bool, dataset: Any, weights: Any, points: Any,
                inv_cov: Any) -> Any:
    """`sum_i weights_i N(points_j; dataset_i, inv(inv_cov))` for each column `j` of
    `points` (its log when `in_log`); `[m]`."""
    dataset, weights, points, inv_cov = promote_dtypes_inexact(dataset, weights, points,
                                                               inv_cov)
    d = dataset.shape[0]
    # With inv_cov = W W', the Mahalanobis distance is the Euclidean one after W'.
    whiten = linalg.cholesky(inv_cov, lower=True)
    data_w = lnp.matmul(dataset.T, whiten)
    points_w = lnp.matmul(points.T, whiten)
    log_norm = (lnp.sum(lnp.log(lnp.diagonal(whiten)))
                - 0.5 * d * np.log(2 * np.pi))
    sq = lnp.sum(lnp.square(points_w[:, None, :] - data_w[None, :, :]), axis=-1)
    log_kernel = log_norm - 0.5 * sq
    if in_log:
        return special.logsumexp(log_kernel + lnp.log(weights)[None, :], axis=1)
    return lnp.sum(weights[None, :] * lnp.exp(log_kernel), axis=1)


@jit
def _box_1d(kde: gaussian_kde, low: Any, high: Any) -> Any:
    sigma = lnp.squeeze(lnp.sqrt(kde.covariance))
    z_low = lnp.squeeze((low - kde.dataset) / sigma)
    z_high = lnp.squeeze((high - kde.dataset) / sigma)
    return lnp.sum(kde.weights * (special.ndtr(z_high) - special.ndtr(z_low)))


@jit(static_argnums=2)
def _resample(kde: gaussian_kde, key: Any, shape: tuple[int, ...]) -> Any:
    index_key, noise_key = random.split(key)
    index = random.choice(index_key, kde.n, shape=shape, p=kde.weights)
    noise = random.multivariate_normal(noise_key,
                                       lnp.zeros(kde.d, kde.covariance.dtype),
                                       kde.covariance, shape=shape,
                                       dtype=kde.dataset.dtype)
    return kde.dataset[:, index] + lnp.moveaxis(noise, -1, 0)
