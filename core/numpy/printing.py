"""Printing helpers of jax.numpy. Like jax, lamina prints arrays with numpy's
formatter, so these are numpy's own print options; array_repr, array_str and
iterable are numpy's functions (they read an Array's values through `__array__`)."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
from numpy import array_repr as array_repr  # noqa: F401
from numpy import array_str as array_str  # noqa: F401
from numpy import iterable as iterable  # noqa: F401

__all__ = [
    "array_repr",
    "array_str",
    "get_printoptions",
    "iterable",
    "printoptions",
    "set_printoptions",
]


def get_printoptions() -> dict[str, Any]:
    """The current print options (numpy.get_printoptions; they apply to lamina arrays).

    >>> import lamina.numpy as lnp
    >>> lnp.get_printoptions()["precision"]
    8
    """
    return np.get_printoptions()


def set_printoptions(*args: Any, **kwargs: Any) -> None:
    """Set the print options globally (numpy.set_printoptions: precision, threshold,
    linewidth, suppress, ...). Prefer the `printoptions` context manager.

    >>> import lamina.numpy as lnp
    >>> saved = lnp.get_printoptions()
    >>> lnp.set_printoptions(precision=3)
    >>> lnp.array([1 / 3])
    Array([0.333], dtype=float32)
    >>> lnp.set_printoptions(**saved)
    """
    np.set_printoptions(*args, **kwargs)


@contextlib.contextmanager
def printoptions(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """A context manager that sets print options inside a `with` block
    (numpy.printoptions).

    >>> import lamina.numpy as lnp
    >>> with lnp.printoptions(precision=2):
    ...     print(repr(lnp.array([1 / 3, 2 / 3])))
    Array([0.33, 0.67], dtype=float32)
    """
    with np.printoptions(*args, **kwargs) as options:
        yield options
