"""lamina.nn: Flax-like modules with explicit parameter pytrees and Equinox-style
declarations.

Three ways to define a model:

1. a pure function `f(params, x)` on a dict of arrays;
2. a `Module` subclass: a frozen dataclass with a plain `__call__`, whose parameters
   are explicit (`variables = model.init(key, x)`, `y = model.apply(variables, x)`);
3. composing library layers (`nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])`).

>>> import lamina, lamina.numpy as lnp
>>> from lamina import nn
>>> model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
>>> variables = model.init(lamina.random.PRNGKey(0), lnp.ones((4, 3)))
>>> model.apply(variables, lnp.ones((4, 3))).shape
(4, 2)
"""
from lamina.nn import initializers as initializers
from lamina.nn.module import (
    BoundModule as BoundModule,
    ImmutableVariableError as ImmutableVariableError,
    MissingRngError as MissingRngError,
    MissingVariableError as MissingVariableError,
    Module as Module,
    NameInUseError as NameInUseError,
    NNError as NNError,
    ParamShapeError as ParamShapeError,
    UnboundModuleError as UnboundModuleError,
    UnusedVariableError as UnusedVariableError,
    Variable as Variable,
    broadcast as broadcast,
)
from lamina.nn.precision import (
    Precision as Precision,
    compute_dtype as compute_dtype,
    current_precision as current_precision,
    promote_dtype as promote_dtype,
)
from lamina.nn.activations import (
    celu as celu,
    elu as elu,
    gelu as gelu,
    glu as glu,
    hard_sigmoid as hard_sigmoid,
    hard_silu as hard_silu,
    hard_swish as hard_swish,
    hard_tanh as hard_tanh,
    identity as identity,
    leaky_relu as leaky_relu,
    log_sigmoid as log_sigmoid,
    log_softmax as log_softmax,
    logsumexp as logsumexp,
    mish as mish,
    one_hot as one_hot,
    relu as relu,
    relu6 as relu6,
    selu as selu,
    sigmoid as sigmoid,
    silu as silu,
    soft_sign as soft_sign,
    softmax as softmax,
    softplus as softplus,
    standardize as standardize,
    swish as swish,
    tanh as tanh,
)
from lamina.nn.linear import (
    Dense as Dense,
    DenseGeneral as DenseGeneral,
    Einsum as Einsum,
    Embed as Embed,
)
from lamina.nn.combinators import MLP as MLP, Sequential as Sequential
from lamina.nn.lifted import remat as remat, scan as scan, vmap as vmap
from lamina.nn.params import (
    combine as combine,
    filter as filter,
    param_paths as param_paths,
    partition as partition,
)
from lamina.nn.summary import Summary as Summary, summary as summary

# NOTE: the layers below are written by another helper (nn-B); they import the names
# above, so they come last.
from lamina.nn.conv import *  # noqa: E402,F401,F403
from lamina.nn.normalization import *  # noqa: E402,F401,F403
from lamina.nn.attention import *  # noqa: E402,F401,F403
from lamina.nn.recurrent import *  # noqa: E402,F401,F403
from lamina.nn.pooling import *  # noqa: E402,F401,F403
from lamina.nn.stochastic import *  # noqa: E402,F401,F403
