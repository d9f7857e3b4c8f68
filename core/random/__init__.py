"""lamina.random: counter-based PRNG keys and samplers, bit-identical to `jax.random`
with its default threefry2x32 implementation (partitionable counters, jax 0.10's
default).

Keys are explicit values: make one with `key(seed)` (typed) or `PRNGKey(seed)` (raw
uint32[2]), derive new ones with `split` / `fold_in`, and pass exactly one key to each
sampler. The same key, shape and dtype give the same numbers as jax.random.

>>> import lamina
>>> k1, k2 = lamina.random.split(lamina.random.key(0))
>>> lamina.random.normal(k1, (2,)).shape
(2,)
"""
from lamina.lax import random_bits as _random_bits  # noqa: F401  (threefry2x32_p)
from lamina.random._keys import (
    KeyArray as KeyArray,
    PRNGKey as PRNGKey,
    bits as bits,
    clone as clone,
    fold_in as fold_in,
    key as key,
    key_data as key_data,
    key_impl as key_impl,
    split as split,
    wrap_key_data as wrap_key_data,
)
from lamina.random._distributions import (
    bernoulli as bernoulli,
    categorical as categorical,
    cauchy as cauchy,
    choice as choice,
    exponential as exponential,
    gumbel as gumbel,
    laplace as laplace,
    logistic as logistic,
    multivariate_normal as multivariate_normal,
    normal as normal,
    orthogonal as orthogonal,
    permutation as permutation,
    rademacher as rademacher,
    randint as randint,
    truncated_normal as truncated_normal,
    uniform as uniform,
)
from lamina.random._gamma import (
    beta as beta,
    binomial as binomial,
    chisquare as chisquare,
    dirichlet as dirichlet,
    gamma as gamma,
    loggamma as loggamma,
    poisson as poisson,
    t as t,
)

__all__ = [
    "KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "key_impl", "split",
    "fold_in", "bits", "clone", "uniform", "normal", "truncated_normal", "bernoulli",
    "randint", "categorical", "gumbel", "permutation", "choice", "exponential", "laplace",
    "logistic", "cauchy", "rademacher", "multivariate_normal", "orthogonal", "gamma",
    "loggamma", "beta", "dirichlet", "t", "chisquare", "poisson", "binomial",
]
