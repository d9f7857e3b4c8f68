"""lamina's intermediate representation and the tracing machinery every transform uses.

* `AbstractArray` (an "aval"): shape, dtype and weak-type flag of a value.
* `Primitive`: a named operation. Its abstract-eval rule lives on the object; every
  other rule (lowering, jvp, transpose, batching) lives in the table of the interpreter
  that uses it (`interpreters/*.py`), registered from the primitive's block in `lax/`.
* `Var` / `Literal` / `Eqn` / `Program`: the jaxpr-like IR, with a pretty-printer and
  `typecheck` (re-runs abstract eval over every equation).
* `Trace` / `Tracer` and `bind`: the current trace is a context variable. A trace that
  runs rules for an inner transform keeps a `parent` pointer and evaluates its rules with
  the parent as the current trace ("stackless" tracing, as in modern JAX). Values that
  are not a trace's own tracers are constants to it.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from lamina import dtypes
from lamina.errors import EscapedTracerError

Shape = tuple[int, ...]

# --------------------------------------------------------------------------------------
# Abstract values
# --------------------------------------------------------------------------------------


class AbstractArray:
    """The abstract value of an array: what tracing knows without the data."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False) -> None:
        self.shape: Shape = tuple(int(d) for d in shape)
        self.dtype: np.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype, self.weak_type))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape: Sequence[int] | None = None, dtype: Any = None,
               weak_type: bool | None = None) -> "AbstractArray":
        return AbstractArray(self.shape if shape is None else shape,
                             self.dtype if dtype is None else dtype,
                             self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> "AbstractArray":
        return self if not self.weak_type else self.update(weak_type=False)

    def str_short(self) -> str:
        """`f32[3,4]` (weak types are marked with a `~`, as in jaxprs)."""
        weak = "~" if self.weak_type else ""
        return f"{weak}{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AbstractArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"AbstractArray({self.str_short()})"


def shaped_abstractify(x: Any) -> AbstractArray:
    """The aval of any array-like: lamina Array/Tracer, numpy array or Python scalar."""
    aval = getattr(x, "aval", None)
    if isinstance(aval, AbstractArray):
        return aval
    if dtypes.is_python_scalar(x):
        # NOTE: Python bools are not weak in jax; ints, floats and complexes are.
        return AbstractArray((), dtypes.dtype_of(x), weak_type=dtypes.is_weakly_typed(x))
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype == dtypes.float0:  # the tangent type of ints: no canonical form
            return AbstractArray(x.shape, x.dtype)
        return AbstractArray(x.shape, dtypes.canonicalize_dtype(x.dtype))
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None and dtype is not None:  # e.g. ShapeDtypeStruct
        return AbstractArray(shape, dtypes.canonicalize_dtype(dtype),
                             bool(getattr(x, "weak_type", False)))
    raise TypeError(f"value of type {type(x).__name__} is not a valid lamina array: {x!r}. "
                    "Pass a lamina Array, a numpy array or a Python scalar.")


class ShapeDtypeStruct:
    """A shape and dtype with no data, as returned by `eval_shape` (jax's name)."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


# --------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------

_all_primitives: dict[str, "Primitive"] = {}


class Primitive:
    """A named operation. `multiple_results` primitives return a list of outputs."""

    multiple_results = False

    def __init__(self, name: str, *, multiple_results: bool = False) -> None:
        assert name not in _all_primitives, ("duplicate primitive", name)
        self.name = name
        self.multiple_results = multiple_results
        self._abstract_eval: Callable[..., Any] | None = None
        _all_primitives[name] = self

    def __repr__(self) -> str:
        return self.name

    def bind(self, *args: Any, **params: Any) -> Any:
        return bind(self, args, params)

    def def_abstract_eval(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        """`rule(*avals, **params) -> aval` (or a list of avals if multiple_results)."""
        self._abstract_eval = rule
        return rule

    def abstract_eval(self, *avals: AbstractArray, **params: Any) -> Any:
        if self._abstract_eval is None:
            from lamina.errors import MissingRuleError
            raise MissingRuleError(self, "abstract evaluation")
        return self._abstract_eval(*avals, **params)


def all_primitives() -> list[Primitive]:
    return list(_all_primitives.values())


# --------------------------------------------------------------------------------------
# Program IR
# --------------------------------------------------------------------------------------

_var_ids = itertools.count()


class Var:
    """A variable of the IR, bound once, typed by an aval."""

    __slots__ = ("aval", "id")

    def __init__(self, aval: AbstractArray) -> None:
        self.aval = aval
        self.id = next(_var_ids)

    def __repr__(self) -> str:
        return f"Var({self.id}:{self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in the IR (a Python or numpy scalar)."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: AbstractArray) -> None:
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({self.val!r})"


Atom = Var | Literal


class Eqn:
    """`outvars = primitive[params](*invars)`."""

    __slots__ = ("primitive", "invars", "outvars", "params")

    def __init__(self, primitive: Primitive, invars: Sequence[Atom],
                 outvars: Sequence[Var], params: dict[str, Any]) -> None:
        self.primitive = primitive
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.params = params


class Program:
    """A closed, first-order program: `{ lambda constvars ; invars . eqns ; outvars }`.

    `consts` holds the values bound to `constvars` (arrays captured while tracing).
    """

    __slots__ = ("constvars", "invars", "eqns", "outvars", "consts")

    def __init__(self, constvars: Sequence[Var], invars: Sequence[Var],
                 eqns: Sequence[Eqn], outvars: Sequence[Atom],
                 consts: Sequence[Any] = ()) -> None:
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)
        self.consts = list(consts)

    @property
    def in_avals(self) -> list[AbstractArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[AbstractArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pretty_print(self)

    __repr__ = __str__


def pretty_print(program: Program) -> str:
    names: dict[int, str] = {}

    def name(atom: Atom) -> str:
        if isinstance(atom, Literal):
            if isinstance(atom.val, np.ndarray):  # an inlined host array
                return f"array<{atom.aval.str_short()}>"
            return repr(atom.val.item() if isinstance(atom.val, np.generic) else atom.val)
        if atom.id not in names:
            n = len(names)
            letters = ""
            while True:
                letters = chr(ord("a") + n % 26) + letters
                n = n // 26 - 1
                if n < 0:
                    break
            names[atom.id] = letters
        return names[atom.id]

    def binder(v: Var) -> str:
        # NOTE: weak types are not marked, as in jax's jaxprs.
        return f"{name(v)}:{v.aval.strip_weak_type().str_short()}"

    def fmt_param(v: Any) -> str:
        if isinstance(v, Program):
            return "{ " + pretty_print(v).replace("\n", "\n    ") + " }"
        if isinstance(v, np.dtype):
            return v.name
        return repr(v)

    for v in [*program.constvars, *program.invars]:  # name binders in reading order
        name(v)
    lines = []
    for eqn in program.eqns:
        outs = " ".join(binder(v) for v in eqn.outvars)
        params = ", ".join(f"{k}={fmt_param(v)}" for k, v in sorted(eqn.params.items()))
        params = f"[{params}]" if params else ""
        ins = " ".join(name(a) for a in eqn.invars)
        lines.append(f"    {outs} = {eqn.primitive.name}{params} {ins}")
    consts = " ".join(binder(v) for v in program.constvars)
    head = f"{{ lambda {consts + ' ' if consts else ''}; {' '.join(binder(v) for v in program.invars)}. let"
    outs = " ".join(name(a) for a in program.outvars)
    return "\n".join([head, *lines, f"  in ({outs}) }}"])


def typecheck(program: Program) -> None:
    """Re-run abstract evaluation over every equation; raise on any inconsistency."""
    env: set[int] = set()

    def read(atom: Atom) -> AbstractArray:
        if isinstance(atom, Literal):
            return atom.aval
        if atom.id not in env:
            raise TypeError(f"typecheck: variable {atom} used before it is bound")
        return atom.aval

    for v in [*program.constvars, *program.invars]:
        if v.id in env:
            raise TypeError(f"typecheck: variable {v} bound twice")
        env.add(v.id)
    for eqn in program.eqns:
        in_avals = [read(a) for a in eqn.invars]
        out = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        out_avals = list(out) if eqn.primitive.multiple_results else [out]
        if len(out_avals) != len(eqn.outvars):
            raise TypeError(f"typecheck: {eqn.primitive} produced {len(out_avals)} outputs, "
                            f"the equation binds {len(eqn.outvars)}")
        for v, aval in zip(eqn.outvars, out_avals):
            if (v.aval.shape, v.aval.dtype) != (aval.shape, aval.dtype):
                raise TypeError(f"typecheck: {eqn.primitive} output {v} has type "
                                f"{v.aval.str_short()} but its rule gives {aval.str_short()}")
            if v.id in env:
                raise TypeError(f"typecheck: variable {v} bound twice")
            env.add(v.id)
    for a in program.outvars:
        read(a)


# --------------------------------------------------------------------------------------
# Traces and tracers
# --------------------------------------------------------------------------------------


class Trace:
    """An interpreter. Subclasses implement `process_primitive`.

    `process_primitive(primitive, args, params)` receives any mix of this trace's own
    tracers and values from enclosing traces (which it treats as constants), and
    returns outputs (a list if `primitive.multiple_results`).
    """

    parent: "Trace | None" = None
    # Where the transformation owning this trace was applied (for error messages);
    # set by the public API functions through `traced_at`.
    source: str = ""
    _finished = False

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def is_valid(self) -> bool:
        """False once the transformation that owns this trace has finished."""
        return not self._finished

    def finish(self) -> None:
        """Mark the trace finished: its tracers may no longer be used."""
        self._finished = True


class Tracer:
    """A value being traced by `_trace`. Array methods and operators are installed
    on this class by `lamina.numpy` (as on `Array`)."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    _trace: Trace

    @property
    def aval(self) -> AbstractArray:
        raise NotImplementedError

    @property
    def shape(self) -> Shape:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def _concrete_value_error(self, what: str) -> Exception:
        from lamina.errors import ConcretizationError, user_source_line
        where = user_source_line()
        return ConcretizationError(
            f"{what} needs a concrete value, but got a traced array {self.aval.str_short()} "
            f"(traced by {type(self._trace).__name__}"
            f"{', created at ' + self._trace.source if self._trace.source else ''})"
            f"{' at ' + where if where else ''}. Inside jit/vmap/grad, use "
            "lamina.lax.cond/lamina.numpy.where instead of Python control flow, or mark the "
            "argument static (jit(f, static_argnums=...)).")

    def __bool__(self) -> bool:
        raise self._concrete_value_error("bool()")

    def __int__(self) -> int:
        raise self._concrete_value_error("int()")

    def __float__(self) -> float:
        raise self._concrete_value_error("float()")

    def __complex__(self) -> complex:
        raise self._concrete_value_error("complex()")

    def __index__(self) -> int:
        raise self._concrete_value_error("Using a traced array as an index (__index__)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._concrete_value_error("Converting to a numpy array (np.asarray)")

    def __hash__(self) -> int:
        raise TypeError(f"unhashable type: traced array {self.aval.str_short()}")

    def __iter__(self) -> Iterator[Any]:
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))  # type: ignore[index]


def _default_trace() -> Trace:
    from lamina.interpreters.eval import eval_trace
    return eval_trace


_current_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "lamina_current_trace", default=None)


def current_trace() -> Trace:
    trace = _current_trace.get()
    return trace if trace is not None else _default_trace()


@contextlib.contextmanager
def set_current_trace(trace: Trace) -> Iterator[None]:
    token = _current_trace.set(trace)
    try:
        yield
    finally:
        _current_trace.reset(token)


def bind(primitive: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
    """Apply `primitive` to `args` in the current trace."""
    trace = current_trace()
    for a in args:
        if isinstance(a, Tracer) and not a._trace.is_valid():
            from lamina.errors import user_source_line
            created = f" (created at {a._trace.source})" if a._trace.source else ""
            raise EscapedTracerError(
                f"{primitive.name} at {user_source_line() or '?'} got a tracer "
                f"{a.aval.str_short()} from a {type(a._trace).__name__}{created} that has "
                "already finished: a traced value escaped its transformation (stored in a "
                "global or an object during tracing?). Return it from the transformed "
                "function instead.")
    try:
        return trace.process_primitive(primitive, args, params)
    except (TypeError, ValueError) as e:
        if not isinstance(trace, _eval_trace_type()) and not getattr(e, "_lamina_noted", False):
            # Say which line of the user's code was being traced (Python 3.11 notes).
            from lamina.errors import user_source_line
            where = user_source_line()
            if where and hasattr(e, "add_note"):
                e.add_note(f"(while tracing {primitive.name} at {where} under "
                           f"{type(trace).__name__})")
            e._lamina_noted = True  # type: ignore[attr-defined]
        raise


def _eval_trace_type() -> type:
    from lamina.interpreters.eval import EvalTrace
    return EvalTrace
