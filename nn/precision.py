"""Mixed precision: per-layer `dtype`/`param_dtype` and a model-wide `Precision` policy.

Every layer has `dtype` (compute; None = decided by the policy or the inputs) and
`param_dtype` (storage). A policy is given in one place, to `init`/`apply`:

    policy = nn.Precision(params="float32", compute="bfloat16", output="float32")
    variables = model.init(key, x, precision=policy)   # floating params stored as f32
    y = model.apply(variables, x, precision=policy)    # layers compute in bf16, y is f32

Resolution order inside a layer (`compute_dtype`): the layer's own `dtype` if set, else
the policy's `compute`, else the promoted dtype of the inputs and params (Flax's
`promote_dtype`). The policy's `params` dtype overrides `param_dtype` for floating
parameters at init; `output` casts the floating outputs of the root module.

>>> import lamina, lamina.numpy as lnp
>>> from lamina import nn
>>> policy = nn.Precision(compute="bfloat16", output="float32")
>>> v = nn.Dense(3).init(lamina.random.PRNGKey(0), lnp.ones((2, 4)), precision=policy)
>>> nn.Dense(3).apply(v, lnp.ones((2, 4)), precision=policy).dtype
dtype('float32')
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes

__all__ = ["Precision", "current_precision", "compute_dtype", "promote_dtype"]


def _canon(name: str, d: Any) -> Any:
    if d is None:
        return None
    try:
        return np.dtype(lnp.dtype(d))
    except TypeError:
        raise TypeError(f"lamina.nn.Precision: {name} must be a dtype (e.g. 'bfloat16'), "
                        f"got {d!r}") from None


@dataclasses.dataclass(frozen=True)
class Precision:
    """A model-wide dtype policy (hashable; pass it as `precision=` to init/apply).

    Attributes:
        params: storage dtype of floating parameters (None: each layer's param_dtype).
        compute: compute dtype of layers whose `dtype` is None (None: from inputs).
        output: dtype of the root module's floating outputs (None: unchanged).
    """

    params: Any = None
    compute: Any = None
    output: Any = None

    def __post_init__(self) -> None:
        for f in ("params", "compute", "output"):
            object.__setattr__(self, f, _canon(f, getattr(self, f)))


def current_precision() -> Precision | None:
    """The policy of the running init/apply (None outside, or when none was given)."""
    from lamina.nn import module
    ctx = module._ctx()
    return None if ctx is None else ctx.precision


def compute_dtype(dtype: Any, *arrays: Any, inexact: bool = True) -> Any:
    """The dtype a layer computes in: `dtype` if given, else the policy's `compute`,
    else the promoted (inexact) dtype of `arrays`.

    >>> import lamina.numpy as lnp
    >>> compute_dtype(None, lnp.ones(2, lnp.bfloat16), lnp.ones(2))
    dtype('float32')
    >>> compute_dtype("bfloat16", lnp.ones(2))
    dtype(bfloat16)
    """
    if dtype is not None:
        return np.dtype(lnp.dtype(dtype))
    pol = current_precision()
    if pol is not None and pol.compute is not None:
        return pol.compute
    arrs = [a for a in arrays if a is not None]
    if not arrs:
        return dtypes.default_float_dtype()
    d = np.dtype(lnp.result_type(*arrs))
    if inexact and not lnp.issubdtype(d, lnp.inexact):
        d = np.dtype(lnp.promote_types(lnp.float32, d))
    return d


def promote_dtype(*arrays: Any, dtype: Any = None, inexact: bool = True) -> tuple[Any, ...]:
    """`arrays` cast to `compute_dtype(dtype, *arrays)` (None entries stay None).

    >>> import lamina.numpy as lnp
    >>> [a.dtype for a in promote_dtype(lnp.ones(2, lnp.int32), lnp.ones(2))]
    [dtype('float32'), dtype('float32')]
    """
    d = compute_dtype(dtype, *arrays, inexact=inexact)
    return tuple(None if a is None else lnp.asarray(a, d) for a in arrays)
