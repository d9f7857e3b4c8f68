"""`platform_dependent`: run the implementation written for the platform the program
is compiled for.

Every candidate is traced (they must agree in output types) and the choice is a
`switch` on a `platform_index` value: a primitive whose lowering reads the target
platform of the module being built (`RuleContext.platform`) and emits the index as a
constant, so XLA keeps only the chosen branch.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina.interpreters import ad, lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive

__all__ = ["platform_dependent"]

# jax's platform aliases: "gpu" names either GPU platform
_ALIASES = {"gpu": ("cuda", "rocm")}

platform_index_p = Primitive("platform_index")


def _platform_index_abstract_eval(*, platforms: tuple[tuple[str, ...], ...],
                                  has_default: bool) -> AbstractArray:
    del platforms, has_default
    return AbstractArray((), np.dtype(np.int32))


def _platform_index_lower(ctx: RuleContext, *, platforms: tuple[tuple[str, ...], ...],
                          has_default: bool) -> Value:
    for i, names in enumerate(platforms):
        if ctx.platform in names:
            index = i
            break
    else:
        if not has_default:
            raise NotImplementedError(
                f"platform_dependent: no implementation for platform {ctx.platform!r} "
                f"(given: {sorted(n for ns in platforms for n in ns)}) and no default")
        index = len(platforms)
    return ctx.constant(np.int32(index), ctx.aval_out)


platform_index_p.def_abstract_eval(_platform_index_abstract_eval)
ad.defjvp_zero(platform_index_p)
lowering.register_lowering(platform_index_p, _platform_index_lower)


def platform_dependent(*args: Any, default: Callable[..., Any] | None = None,
                       **per_platform: Callable[..., Any]) -> Any:
    """Call `per_platform[p](*args)` for the platform `p` the program is compiled for
    ("cpu", "cuda", "rocm", "tpu", or "gpu" for either GPU), else `default(*args)`.

    All implementations are traced and must return the same types; only the chosen
    one runs. Under `grad` and `vmap` each branch is transformed.

    Raises:
        NotImplementedError: at compile time, when the platform has no implementation
            and no `default` is given.

    >>> import lamina
    >>> from lamina import lax
    >>> lamina.jit(lambda x: lax.platform_dependent(x, cpu=lambda x: x + 1.0,
    ...                                             default=lambda x: x - 1.0))(1.0)
    Array(2., dtype=float32, weak_type=True)
    """
    import lamina.lax as lax
    names, branches = [], []
    for platform, fn in per_platform.items():
        if not callable(fn):
            raise TypeError(f"platform_dependent: the implementation for {platform!r} must "
                            f"be callable, got {fn!r}")
        names.append(_ALIASES.get(platform.lower(), (platform.lower(),)))
        branches.append(fn)
    if default is not None:
        branches.append(default)
    if not branches:
        raise TypeError("platform_dependent: give at least one implementation")
    if not names:
        return default(*args)  # type: ignore[misc]
    if len(branches) == 1:
        # NOTE: switch inlines a lone branch; keep two so that the platform is still
        # checked when the program is lowered
        branches.append(branches[0])
    index = platform_index_p.bind(platforms=tuple(names), has_default=default is not None)
    return lax.switch(index, branches, *args)
