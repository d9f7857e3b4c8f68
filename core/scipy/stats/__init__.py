"""lamina.scipy.stats: probability distributions with `jax.scipy.stats`'s names and
semantics, one submodule per distribution (`norm.logpdf`, `poisson.logpmf`, ...).

>>> from lamina.scipy import stats
>>> stats.norm.pdf(0.)
Array(0.3989423, dtype=float32, weak_type=True)
"""
from lamina.scipy.stats import bernoulli as bernoulli
from lamina.scipy.stats import beta as beta
from lamina.scipy.stats import cauchy as cauchy
from lamina.scipy.stats import chi2 as chi2
from lamina.scipy.stats import expon as expon
from lamina.scipy.stats import gamma as gamma
from lamina.scipy.stats import laplace as laplace
from lamina.scipy.stats import logistic as logistic
from lamina.scipy.stats import multivariate_normal as multivariate_normal
from lamina.scipy.stats import norm as norm
from lamina.scipy.stats import poisson as poisson
from lamina.scipy.stats import t as t
from lamina.scipy.stats import uniform as uniform
