"""The Threefry-2x32 block cipher as one primitive: the source of every random bit in
`lamina.random`.

`threefry2x32(k1, k2, x1, x2) -> (y1, y2)` encrypts the counter pairs `(x1, x2)` under
the key `(k1, k2)` with 20 rounds of Threefry (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3", SC 2011), exactly as jax's `threefry2x32_p`. All operands are
uint32; 0-d operands broadcast against the others, which share one shape.

One primitive rather than a composition of ~100 lax ops keeps programs small and makes
eager calls a single cached executable. The lowering emits the rounds as StableHLO
integer ops (add, xor, shifts); integer arithmetic is exact, so any schedule of the same
ops gives jax's bits.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina.interpreters import ad, batching, lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, scalar_operand_avals

__all__ = ["threefry2x32", "threefry2x32_host"]

_U32 = np.dtype(np.uint32)
# NOTE: the rotation schedule and the key-schedule parity constant of Threefry-2x32
# (Random123's R_32x2 table and SKEIN_KS_PARITY32).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = 0x1BD11BDA

threefry2x32_p = Primitive("threefry2x32", multiple_results=True)


def threefry2x32(k1: ArrayLike, k2: ArrayLike, x1: ArrayLike, x2: ArrayLike) -> list[Any]:
    """Threefry-2x32 with 20 rounds: encrypts counters `(x1, x2)` under key `(k1, k2)`.

    Args:
        k1, k2: the two uint32 words of the key (usually 0-d).
        x1, x2: uint32 counter words; operands share one shape or are 0-d.

    Returns:
        `[y1, y2]`, two uint32 arrays of the common shape.

    >>> import numpy as np
    >>> from lamina.lax.random_bits import threefry2x32
    >>> u = lambda v: np.uint32(v)
    >>> [hex(int(y)) for y in threefry2x32(u(0), u(0), u(0), u(0))]
    ['0x6b200159', '0x99ba4efe']
    """
    return threefry2x32_p.bind(k1, k2, x1, x2)


def _threefry2x32_abstract_eval(*avals: AbstractArray) -> list[AbstractArray]:
    if any(a.dtype != _U32 for a in avals):
        raise TypeError("threefry2x32: every operand must be uint32, got "
                        + ", ".join(a.str_short() for a in avals))
    shape = scalar_operand_avals(avals)
    if shape is None:
        raise TypeError("threefry2x32: operands must share one shape (or be 0-d), got "
                        + ", ".join(a.str_short() for a in avals))
    out = AbstractArray(shape, _U32)
    return [out, out]


threefry2x32_p.def_abstract_eval(_threefry2x32_abstract_eval)
ad.defjvp_zero(threefry2x32_p)
batching.defbroadcasting(threefry2x32_p)
_broadcasting_batch = batching.primitive_batchers[threefry2x32_p]


def _threefry2x32_batch(args: Any, dims: Any, **params: Any) -> tuple[Any, Any]:
    # NOTE: the shared broadcasting rule returns one batch dim; both outputs share it.
    out, dim = _broadcasting_batch(args, dims, **params)
    return out, [dim, dim]


batching.primitive_batchers[threefry2x32_p] = _threefry2x32_batch


def _rounds(k1: Any, k2: Any, x1: Any, x2: Any, add: Any, xor: Any, rotl: Any,
            const: Any) -> list[Any]:
    """The 20 rounds over any uint32 arithmetic: `add`, `xor`, `rotl(v, r)` and
    `const(int)` act on values of the key's and counters' common shape."""
    ks = [k1, k2, xor(xor(k1, k2), const(_KS_PARITY))]
    x = [add(x1, ks[0]), add(x2, ks[1])]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x[0] = add(x[0], x[1])
            x[1] = xor(x[0], rotl(x[1], r))
        x[0] = add(x[0], ks[(i + 1) % 3])
        x[1] = add(add(x[1], ks[(i + 2) % 3]), const(i + 1))
    return x


def threefry2x32_host(k1: Any, k2: Any, x1: Any, x2: Any) -> list[np.ndarray]:
    """`threefry2x32` on the host with numpy (uint32 arithmetic wraps, so the bits are
    the compiled program's); for eager key derivation, which needs no compile then.

    >>> [hex(int(y)) for y in threefry2x32_host(0, 0, 0, 0)]
    ['0x6b200159', '0x99ba4efe']
    """
    k1, k2, x1, x2 = np.broadcast_arrays(*(np.asarray(v, _U32) for v in (k1, k2, x1, x2)))

    def rotl(v: np.ndarray, r: int) -> np.ndarray:
        return (v << _U32.type(r)) | (v >> _U32.type(32 - r))

    with np.errstate(over="ignore"):
        return _rounds(k1, k2, x1, x2, np.add, np.bitwise_xor, rotl, _U32.type)


def _threefry2x32_lower(ctx: RuleContext, k1: Value, k2: Value, x1: Value, x2: Value
                        ) -> list[Value]:
    aval = ctx.avals_out[0]
    k1, k2, x1, x2 = lowering.broadcast_scalar_operands(ctx, [k1, k2, x1, x2])

    def binop(name: str, a: Value, b: Value) -> Value:
        return ctx.op(f"stablehlo.{name}", [a, b], aval)

    def const(v: int) -> Value:
        return ctx.constant(np.uint32(v), aval)

    def rotl(v: Value, r: int) -> Value:
        return binop("or", binop("shift_left", v, const(r)),
                     binop("shift_right_logical", v, const(32 - r)))

    return _rounds(k1, k2, x1, x2, lambda a, b: binop("add", a, b),
                   lambda a, b: binop("xor", a, b), rotl, const)


lowering.register_lowering(threefry2x32_p, _threefry2x32_lower)

