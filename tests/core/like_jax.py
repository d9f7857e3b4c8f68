"""Comparing a lamina.numpy result with jax.numpy's: shared by the numpy test files."""
import numpy as np

import lamina
import lamina.numpy as lnp
from lamina.testing import assert_array_close


def assert_like_jax(actual, expected, where="", **tol):
    """Same structure, shapes, dtypes, weak types and values as jax."""
    if isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), (where, type(actual), type(expected))
        assert len(actual) == len(expected), where
        for a, e in zip(actual, expected):
            assert_like_jax(a, e, where, **tol)
        return
    assert isinstance(actual, lamina.Array), (where, type(actual))
    assert actual.shape == expected.shape, (where, actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (where, actual.dtype, expected.dtype)
    assert actual.weak_type == expected.weak_type, (where, actual.weak_type)
    assert_array_close(actual, np.asarray(expected), err_msg=where, **tol)


def both(f, *args):
    """`f` run with lamina (lnp arrays) and with jax (jnp arrays) on the same host data."""
    import jax.numpy as jnp
    return (f(lnp, *[lnp.asarray(a) for a in args]),
            f(jnp, *[jnp.asarray(a) for a in args]))
