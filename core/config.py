"""Process-wide flags, read from the environment once and changeable at run time.

| flag           | environment variable       | default |
|----------------|----------------------------|---------|
| enable_x64     | LAMINA_ENABLE_X64=1        | False   |
| enable_checks  | LAMINA_ENABLE_CHECKS=1     | False   |
| debug          | LAMINA_DEBUG=<level>       | 0       |
| debug_nans     | LAMINA_DEBUG_NANS=1        | False   |
| debug_infs     | LAMINA_DEBUG_INFS=1        | False   |
| cpu_enable_async_dispatch | LAMINA_CPU_ENABLE_ASYNC_DISPATCH=0 | True |
| cpu_malloc_tuning | LAMINA_CPU_MALLOC_TUNING=0 | True |

`lamina.config.update("enable_x64", True)` mirrors `jax.config.update`. Caches that
depend on a flag (dtype canonicalisation, compiled executables) key on its value, so
flipping a flag never returns a stale result.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"environment variable {name}={value!r}: expected 1/0, true/false, yes/no or on/off")


class Config:
    """Holds lamina's flags as attributes (`lamina.config.enable_x64`)."""

    def __init__(self) -> None:
        self._fixed: set[str] = set()
        self._values: dict[str, Any] = {
            "enable_x64": _env_bool("LAMINA_ENABLE_X64"),
            "enable_checks": _env_bool("LAMINA_ENABLE_CHECKS"),
            "debug": int(os.environ.get("LAMINA_DEBUG", "0") or 0),
            # NaN / inf checks on every eager op and jitted call (lamina._debug_floats)
            "debug_nans": _env_bool("LAMINA_DEBUG_NANS"),
            "debug_infs": _env_bool("LAMINA_DEBUG_INFS"),
            # as jax_cpu_enable_async_dispatch; read when the CPU client is created
            "cpu_enable_async_dispatch": _env_bool("LAMINA_CPU_ENABLE_ASYNC_DISPATCH",
                                                   True),
            # glibc heap settings for XLA:CPU's buffers (backend/heap.py); read when the
            # CPU client is created
            "cpu_malloc_tuning": _env_bool("LAMINA_CPU_MALLOC_TUNING", True),
        }
        self._derive()

    # Entries of `_values` computed from the flags, for the dispatch paths (one dict
    # lookup each); not flags themselves.
    _DERIVED = ("debug_floats",)

    def _derive(self) -> None:
        values = self._values
        values["debug_floats"] = values["debug_nans"] or values["debug_infs"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"lamina.config has no flag {name!r}") from None

    def update(self, name: str, value: Any) -> None:
        """Set flag `name` (one of `lamina.config.flags()`) to `value`."""
        if name not in self._values or name in self._DERIVED:
            raise ValueError(f"lamina.config.update: unknown flag {name!r}; known flags: {sorted(self.flags())}")
        if name in self._fixed and value != self._values[name]:
            raise RuntimeError(
                f"lamina.config.update: {name!r} is read when the backend starts, which has "
                f"happened (it is {self._values[name]!r}); set it before the first array or "
                f"device use, or with its environment variable")
        self._values[name] = value
        self._derive()

    def fix(self, name: str) -> None:
        """Mark flag `name` as read once and for all (the backend calls this at start)."""
        self._fixed.add(name)

    def flags(self) -> dict[str, Any]:
        """A copy of every flag's current value."""
        return {k: v for k, v in self._values.items() if k not in self._DERIVED}

    @contextlib.contextmanager
    def override(self, **values: Any) -> Iterator[None]:
        """Temporarily set flags: `with lamina.config.override(enable_x64=True): ...`."""
        old = {k: self._values[k] for k in values if k in self._values}
        for k, v in values.items():
            self.update(k, v)
        try:
            yield
        finally:
            self._values.update(old)
            self._derive()


config = Config()


@contextlib.contextmanager
def debug_nans(value: bool = True) -> Iterator[None]:
    """Within the block, check for NaNs as `jax.debug_nans` does: each eager op's
    outputs are checked, and a jitted function returning a NaN is re-run op by op to
    raise FloatingPointError naming the primitive that produced it and the source line.
    Same as the flag `debug_nans` (`LAMINA_DEBUG_NANS=1`).

    >>> import lamina, lamina.numpy as lnp
    >>> with lamina.debug_nans(True):
    ...     lnp.log(lnp.float32(-1.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FloatingPointError: invalid value (nan) encountered in log...
    """
    with config.override(debug_nans=bool(value)):
        yield


@contextlib.contextmanager
def debug_infs(value: bool = True) -> Iterator[None]:
    """Within the block, check for infinities as `jax.debug_infs` does (see
    `debug_nans`). Same as the flag `debug_infs` (`LAMINA_DEBUG_INFS=1`).

    >>> import lamina, lamina.numpy as lnp
    >>> with lamina.debug_infs(True):
    ...     lnp.float32(1.0) / 0.0  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FloatingPointError: invalid value (inf) encountered in div...
    """
    with config.override(debug_infs=bool(value)):
        yield
