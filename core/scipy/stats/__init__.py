"""lamina.scipy.stats: probability distributions with `jax.scipy.stats`'s names and
semantics, one submodule per distribution (`norm.logpdf`, `poisson.logpmf`, ...).

>>> from lamina.scipy import stats
>>> stats.norm.pdf(0.)
Array(0.3989423, dtype=float32, weak_type=True)
"""
from lamina.scipy.stats import bernoulli as bernoulli
from lamina.scipy.stats import beta as beta
from lamina.scipy.stats import betabinom as betabinom
from lamina.scipy.stats import binom as binom
from lamina.scipy.stats import cauchy as cauchy
from lamina.scipy.stats import chi2 as chi2
from lamina.scipy.stats import dirichlet as dirichlet
from lamina.scipy.stats import expon as expon
from lamina.scipy.stats import gamma as gamma
from lamina.scipy.stats._kde import gaussian_kde as gaussian_kde
from lamina.scipy.stats import gennorm as gennorm
from lamina.scipy.stats import geom as geom
from lamina.scipy.stats import gumbel_l as gumbel_l
from lamina.scipy.stats import gumbel_r as gumbel_r
from lamina.scipy.stats import laplace as laplace
from lamina.scipy.stats import logistic as logistic
from lamina.scipy.stats import multinomial as multinomial
from lamina.scipy.stats import multivariate_normal as multivariate_normal
from lamina.scipy.stats import nbinom as nbinom
from lamina.scipy.stats import norm as norm
from lamina.scipy.stats import pareto as pareto
from lamina.scipy.stats import poisson as poisson
from lamina.scipy.stats import t as t
from lamina.scipy.stats import truncnorm as truncnorm
from lamina.scipy.stats import uniform as uniform
from lamina.scipy.stats import vonmises as vonmises
from lamina.scipy.stats import wrapcauchy as wrapcauchy
