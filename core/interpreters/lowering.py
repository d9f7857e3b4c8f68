"""Lowering: `Program` -> StableHLO module text.

Rule signature (table `lowering_rules`, filled by `register_lowering` from each
primitive's block in `lax/`)::

    rule(ctx: RuleContext, *operands: Value, **params) -> Value | Sequence[Value]

`Value` is an SSA name (`"%12"`). `ctx.avals_in` / `ctx.avals_out` give the types;
`ctx.op(...)` emits one operation in MLIR's *generic* syntax
(`%3 = "stablehlo.add"(%1, %2) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>`),
which every dialect accepts, so rules never depend on an op's pretty-printed form.

We emit text rather than building through the MLIR Python bindings: building text is
~15x cheaper (JAXLIB_FACTS §2), and the text is the key of the compile caches.
The lowering rule is the only implementation of a primitive: eager evaluation compiles
a one-equation program through this same module (`interpreters/eval.py`).
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import ml_dtypes
import numpy as np

from lamina.errors import MissingRuleError
from lamina.ir import AbstractArray, Literal, Primitive, Program

Value = str
LoweringRule = Callable[..., Any]

lowering_rules: dict[Primitive, LoweringRule] = {}


def register_lowering(primitive: Primitive, rule: LoweringRule) -> None:
    lowering_rules[primitive] = rule


# Primitives whose lowering may thread the effect token, with the test on their params
# (e.g. `debug_callback_p`: when `ordered`).
token_effects: dict[Primitive, Callable[[dict[str, Any]], bool]] = {}


def uses_effect_token(program: Program) -> bool:
    """Whether lowering `program` threads the effect token: one of its equations is an
    ordered effect (`token_effects`), itself or inside a sub-program of its params (a
    loop or branch body). Control-flow lowerings then carry the token through their
    regions, so the body's ordered effects stay ordered against the enclosing ones."""
    for eqn in program.eqns:
        test = token_effects.get(eqn.primitive)
        if test is not None and test(eqn.params):
            return True
        if any(uses_effect_token(p) for p in _sub_programs(eqn.params.values())):
            return True
    return False


def _sub_programs(values: Any) -> Any:
    for v in values:
        if isinstance(v, Program):
            yield v
        elif isinstance(v, (tuple, list)):
            yield from _sub_programs(v)


# --------------------------------------------------------------------------------------
# Types and attributes as MLIR text
# --------------------------------------------------------------------------------------

_ELEMENT_TYPES = {
    np.dtype(np.bool_): "i1",
    np.dtype(np.int8): "i8", np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32", np.dtype(np.int64): "i64",
    np.dtype(np.uint8): "ui8", np.dtype(np.uint16): "ui16",
    np.dtype(np.uint32): "ui32", np.dtype(np.uint64): "ui64",
    np.dtype(np.float16): "f16", np.dtype(ml_dtypes.bfloat16): "bf16",
    np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
    np.dtype(np.complex64): "complex<f32>", np.dtype(np.complex128): "complex<f64>",
}


def element_type(dtype: np.dtype) -> str:
    try:
        return _ELEMENT_TYPES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"dtype {dtype} cannot be lowered to StableHLO") from None


class TokenType:
    """The type `!stablehlo.token` where an op takes an aval: the operand/result of the
    custom calls that order effects (`token`, the single instance)."""

    ndim = 0

    def __repr__(self) -> str:
        return "token"


token = TokenType()


def tensor_type(aval: AbstractArray | TokenType) -> str:
    """`tensor<2x3xf32>`; `tensor<f32>` for a 0-d array; `!stablehlo.token` for `token`."""
    if aval is token:
        return "!stablehlo.token"
    dims = "".join(f"{d}x" for d in aval.shape)
    return f"tensor<{dims}{element_type(aval.dtype)}>"


def i64_array(values: Sequence[int]) -> str:
    """A `DenseI64ArrayAttr`: `array<i64: 0, 1>` (`array<i64>` when empty)."""
    values = [int(v) for v in values]
    return f"array<i64: {', '.join(map(str, values))}>" if values else "array<i64>"


def bool_array(values: Sequence[bool]) -> str:
    values = ["true" if v else "false" for v in values]
    return f"array<i1: {', '.join(values)}>" if values else "array<i1>"


def dense_i64(values: Any) -> str:
    """A `DenseIntElementsAttr` of i64 with the array's shape: `dense<[[0, 1]]> : tensor<1x2xi64>`."""
    arr = np.asarray(values, dtype=np.int64)
    dims = "".join(f"{d}x" for d in arr.shape)
    return f"dense<{_nested_list_text(arr)}> : tensor<{dims}i64>"


def _nested_list_text(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return str(arr.item())
    return "[" + ", ".join(_nested_list_text(a) for a in arr) + "]"


def i64_attr(value: int) -> str:
    return f"{int(value)} : i64"


def i32_attr(value: int) -> str:
    return f"{int(value)} : i32"


def bool_attr(value: bool) -> str:
    return "true" if value else "false"


def str_attr(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def dense_elements(value: Any, aval: AbstractArray) -> str:
    """The `dense<...>` attribute holding `value` (a scalar or an array of aval's shape).

    Raw little-endian bytes in hex keep every value exact (NaN payloads, -0.0 and
    bfloat16 included). Arrays whose elements are all bytewise equal become a splat.
    """
    arr = np.ascontiguousarray(np.asarray(value, dtype=aval.dtype))
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)  # i1 elements take one byte each in the hex form
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    if arr.size > 1:
        rows = arr.reshape(-1).view(np.uint8).reshape(arr.size, -1)
        if (rows == rows[0]).all():
            arr = arr.reshape(-1)[0]
    return f'dense<"0x{arr.tobytes().hex().upper()}"> : {tensor_type(aval)}'


# --------------------------------------------------------------------------------------
# Building a function body
# --------------------------------------------------------------------------------------


class FunctionBuilder:
    """Accumulates the lines of one `func.func` body, nested regions included.

    It records the type of every value it defines, so terminators and rules can ask
    `type_of(value)` instead of threading types around.
    """

    def __init__(self, platform: str = "cpu") -> None:
        # The platform of the devices the module will run on ("cpu", "cuda", "rocm",
        # "tpu"): rules that call platform kernels (LAPACK, host callbacks) check it.
        self.platform = platform
        self._names = itertools.count()
        self._lines: list[str] = []
        self._indent = 4
        self._types: dict[Value, str] = {}
        # NOTE: the token that orders effects (ordered debug callbacks) in the region being
        # built: None until the first ordered effect; each nested region starts without
        # one, and a control-flow rule whose body has ordered effects sets it to the token
        # it passes in (`uses_effect_token`).
        self.effect_token: Value | None = None

    def fresh(self, aval: AbstractArray) -> Value:
        value = f"%{next(self._names)}"
        self._types[value] = tensor_type(aval)
        return value

    def type_of(self, value: Value) -> str:
        return self._types[value]

    def emit(self, line: str) -> None:
        self._lines.append(" " * self._indent + line)

    def op(self, name: str, operands: Sequence[Value], result_avals: Sequence[AbstractArray],
           attrs: dict[str, str] | None = None, regions: Sequence[str] = ()) -> list[Value]:
        """Emit `name(operands)` with the given result types; returns the result values."""
        operand_types = ", ".join(self._types[v] for v in operands)
        result_types = ", ".join(tensor_type(a) for a in result_avals)
        attr_text = ""
        if attrs:
            attr_text = " {" + ", ".join(f"{k} = {v}" for k, v in attrs.items()) + "}"
        region_text = f" ({', '.join(regions)})" if regions else ""
        call = (f'"{name}"({", ".join(operands)}){region_text}{attr_text} : '
                f"({operand_types}) -> ({result_types})")
        n = len(result_avals)
        if n == 0:
            self.emit(call)
            return []
        base = f"%{next(self._names)}"
        if n == 1:
            self._types[base] = tensor_type(result_avals[0])
            self.emit(f"{base} = {call}")
            return [base]
        results = [f"{base}#{i}" for i in range(n)]
        for r, a in zip(results, result_avals):
            self._types[r] = tensor_type(a)
        self.emit(f"{base}:{n} = {call}")
        return results

    def region(self, arg_avals: Sequence[AbstractArray],
               body: Callable[[list[Value]], Sequence[Value]],
               terminator: str = "stablehlo.return") -> str:
        """A one-block region: `body(block_args)` emits ops and returns the values the
        region yields (through `terminator`)."""
        args = [self.fresh(a) for a in arg_avals]
        saved_lines, saved_indent, saved_token = self._lines, self._indent, self.effect_token
        self._lines, self._indent, self.effect_token = [], saved_indent + 4, None
        try:
            results = list(body(args))
            types = ", ".join(self._types[r] for r in results)
            self.emit(f'"{terminator}"({", ".join(results)}) : ({types}) -> ()')
            inner = self._lines
        finally:
            self._lines, self._indent, self.effect_token = saved_lines, saved_indent, saved_token
        header = ", ".join(f"{a}: {self._types[a]}" for a in args)
        pad = " " * (self._indent + 2)
        return ("{\n" + f"{pad}^bb0({header}):\n" + "\n".join(inner) + "\n"
                + " " * self._indent + "}")

    def constant(self, value: Any, aval: AbstractArray) -> Value:
        return self.op("stablehlo.constant", [], [aval], {"value": dense_elements(value, aval)})[0]

    def lines(self) -> list[str]:
        return self._lines


class RuleContext:
    """What a lowering rule sees: the builder plus the equation's input/output types."""

    __slots__ = ("builder", "avals_in", "avals_out", "lower_program")

    def __init__(self, builder: FunctionBuilder, avals_in: Sequence[AbstractArray],
                 avals_out: Sequence[AbstractArray],
                 lower_program: "Callable[[Program, Sequence[Value]], list[Value]]") -> None:
        self.builder = builder
        self.avals_in = list(avals_in)
        self.avals_out = list(avals_out)
        # Inline a sub-program (a branch, a loop body) at the current point.
        self.lower_program = lower_program

    @property
    def aval_out(self) -> AbstractArray:
        assert len(self.avals_out) == 1, self.avals_out
        return self.avals_out[0]

    def op(self, name: str, operands: Sequence[Value], result_avals: Any,
           attrs: dict[str, str] | None = None, regions: Sequence[str] = ()) -> Any:
        """Like `FunctionBuilder.op`; a single aval (not a list) returns a single value."""
        if isinstance(result_avals, AbstractArray):
            return self.builder.op(name, operands, [result_avals], attrs, regions)[0]
        return self.builder.op(name, operands, result_avals, attrs, regions)

    def region(self, arg_avals: Sequence[AbstractArray],
               body: Callable[[list[Value]], Sequence[Value]],
               terminator: str = "stablehlo.return") -> str:
        return self.builder.region(arg_avals, body, terminator)

    def constant(self, value: Any, aval: AbstractArray) -> Value:
        return self.builder.constant(value, aval)

    @property
    def platform(self) -> str:
        """The platform the module is lowered for (`lower_program(platform=...)`)."""
        return self.builder.platform

    def effect_token(self) -> Value:
        """The current region's effect token (made by `stablehlo.after_all` on first use).
        An ordered effect takes it as an operand and gives the next one to
        `set_effect_token`, so XLA runs the region's ordered effects in program order."""
        if self.builder.effect_token is None:
            self.builder.effect_token = self.builder.op("stablehlo.after_all", [], [token])[0]
        return self.builder.effect_token

    def set_effect_token(self, value: Value) -> None:
        self.builder.effect_token = value


def broadcast_scalar_operands(ctx: RuleContext, args: Sequence[Value]) -> list[Value]:
    """Broadcast 0-d operands of an elementwise op to the output shape (jax.lax lets
    rank-0 operands mix with rank-n ones; StableHLO does not)."""
    shape = ctx.avals_out[0].shape
    out = []
    for v, aval in zip(args, ctx.avals_in):
        if aval.shape != shape:
            assert aval.shape == (), (aval, shape)
            v = ctx.op("stablehlo.broadcast_in_dim", [v], aval.update(shape=shape),
                       {"broadcast_dimensions": i64_array(())})
        out.append(v)
    return out


def elementwise(op_name: str) -> LoweringRule:
    """The lowering of a primitive that maps to one StableHLO/CHLO op of the same arity."""

    def rule(ctx: RuleContext, *args: Value, **params: Any) -> Value:
        del params
        args = broadcast_scalar_operands(ctx, args)
        return ctx.op(op_name, args, ctx.aval_out)

    rule.__name__ = f"{op_name.split('.')[-1]}_lower"
    return rule


# --------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------


def _lower_eqns(builder: FunctionBuilder, program: Program, args: Sequence[Value]) -> list[Value]:
    """Emit `program`'s equations with `args` bound to constvars + invars."""
    env: dict[int, Value] = {}
    binders = [*program.constvars, *program.invars]
    assert len(binders) == len(args), (len(binders), len(args))
    for v, a in zip(binders, args):
        env[v.id] = a

    def read(atom: Any) -> Value:
        if isinstance(atom, Literal):
            return builder.constant(atom.val, atom.aval)
        return env[atom.id]

    def lower_sub(sub: Program, sub_args: Sequence[Value]) -> list[Value]:
        return _lower_eqns(builder, sub, sub_args)

    for eqn in program.eqns:
        rule = lowering_rules.get(eqn.primitive)
        if rule is None:
            raise MissingRuleError(eqn.primitive, "lowering")
        ctx = RuleContext(builder, [a.aval for a in eqn.invars], [v.aval for v in eqn.outvars],
                          lower_sub)
        outs = rule(ctx, *[read(a) for a in eqn.invars], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        assert len(outs) == len(eqn.outvars), (eqn.primitive, len(outs), len(eqn.outvars))
        for v, o in zip(eqn.outvars, outs):
            env[v.id] = o
    return [read(a) for a in program.outvars]


def lower_program(program: Program, *, donated: Sequence[bool] = (),
                  num_replicas: int = 1, num_partitions: int = 1,
                  prelude: Sequence[str] = (), arg_attrs: Sequence[str | None] = (),
                  result_attrs: Sequence[str | None] = (), platform: str = "cpu") -> str:
    """The StableHLO module text of `program`; its `main` takes constvars then invars.

    `donated[i]` marks argument i (counting constvars first) as a buffer donor.
    `prelude` lines open the module body (e.g. `sdy.mesh` declarations; read after the
    equations are lowered, so their rules may add to it); `arg_attrs[i]` /
    `result_attrs[i]` are extra attribute entries (`sdy.sharding = ...`) of argument or
    result i (sharded jit, `lamina._spmd`). `platform`: what the module will be
    compiled for (the devices' `platform`); rules calling platform kernels check it.
    """
    builder = FunctionBuilder(platform)
    arg_avals = [v.aval for v in [*program.constvars, *program.invars]]
    args = [builder.fresh(a) for a in arg_avals]
    donated = list(donated) + [False] * (len(args) - len(donated))
    arg_attrs = list(arg_attrs) + [None] * (len(args) - len(arg_attrs))
    outs = _lower_eqns(builder, program, args)
    result_attrs = list(result_attrs) + [None] * (len(outs) - len(result_attrs))

    def attrs(*entries: str | None) -> str:
        present = [e for e in entries if e]
        return f" {{{', '.join(present)}}}" if present else ""

    arg_text = ", ".join(
        f"{a}: {builder.type_of(a)}" + attrs("jax.buffer_donor = true" if d else None, extra)
        for a, d, extra in zip(args, donated, arg_attrs))
    out_types = ", ".join(tensor_type(v.aval) + attrs(extra)
                          for v, extra in zip(program.outvars, result_attrs))
    ret_types = ", ".join(builder.type_of(o) for o in outs)
    return "\n".join([
        f"module @lamina attributes {{mhlo.num_replicas = {num_replicas} : i32, "
        f"mhlo.num_partitions = {num_partitions} : i32}} {{",
        *[f"  {line}" for line in prelude],
        f"  func.func public @main({arg_text}) -> ({out_types}) {{",
        *builder.lines(),
        f'    "func.return"({", ".join(outs)}) : ({ret_types}) -> ()',
        "  }",
        "}",
    ])
