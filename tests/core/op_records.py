"""The op table: one `OpRecord` per lamina.lax / lamina.numpy function.

Each family lists its records in `tests/core/records_<family>.py` as `RECORDS`; the
per-transform suites (`test_ops_numeric.py`, later grad and vmap) iterate over all of
them, so adding an op means adding one row.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable, Sequence

import ml_dtypes
import numpy as np

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, bfloat16 = np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)
float32, float64 = np.dtype(np.float32), np.dtype(np.float64)
complex64 = np.dtype(np.complex64)

# dtypes available with x64 off (the default the suite runs under)
FLOATS = (float16, bfloat16, float32)
COMPLEX = (complex64,)
INEXACT = FLOATS + COMPLEX
SIGNED = (int8, int16, int32)
UNSIGNED = (uint8, uint16, uint32)
INTS = SIGNED + UNSIGNED
NUMERIC = INTS + INEXACT
ALL = (bool_,) + NUMERIC

# Shape sweeps: scalar, vector, matrix, size-1 broadcast, zero-size.
UNARY_SHAPES = [(), (5,), (3, 4), (1, 4), (0, 3)]
BINARY_SHAPES = [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((3, 4), ()), ((0, 3), (0, 3))]

Sampler = Callable[[np.random.Generator, tuple, np.dtype], np.ndarray]


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.asarray(x).astype(dtype)


def rand_default(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Values in about [-3, 3]; integers small; complex with both parts."""
    dtype = np.dtype(dtype)
    if dtype == bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.unsignedinteger):
        return _cast(rng.integers(0, 10, shape), dtype)
    if np.issubdtype(dtype, np.integer):
        return _cast(rng.integers(-5, 6, shape), dtype)
    if np.issubdtype(dtype, np.complexfloating):
        return _cast(rng.normal(size=shape) * 1.5 + 1j * rng.normal(size=shape) * 1.5, dtype)
    return _cast(rng.normal(size=shape) * 1.5, dtype)


def rand_positive(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return _cast(rng.integers(1, 10, shape), dtype)
    if np.issubdtype(dtype, np.complexfloating):
        return _cast(rng.uniform(0.1, 3, shape) + 1j * rng.uniform(0.1, 3, shape), dtype)
    return _cast(rng.uniform(0.1, 3.0, shape), dtype)


def rand_uniform(low: float, high: float) -> Sampler:
    def sample(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return _cast(rng.uniform(low, high, shape), dtype)
    return sample


def rand_nonzero(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    x = rand_default(rng, shape, dtype)
    return np.where(x == 0, np.ones((), x.dtype), x)


@dataclasses.dataclass(frozen=True)
class OpRecord:
    """One function under test.

    `fn` is the lamina function; `ref` the numpy reference taking the same numpy
    arguments. `shapes` lists argument-shape tuples (one shape per argument).
    `out_dtype(*in_dtypes)` gives the expected result dtype when the reference's own
    dtype is not the lamina/jax one (numpy promotes differently). `tol` overrides the
    per-dtype tolerance (`{dtype: tol}` or a float). `kwargs` are passed to both.
    """

    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    nargs: int
    dtypes: Sequence[np.dtype]
    shapes: Sequence[tuple] | None = None
    sampler: Sampler = rand_default
    tol: Any = None
    kwargs: dict = dataclasses.field(default_factory=dict)
    out_dtype: Callable[..., Any] | None = None
    check_dtype: bool = True

    def arg_shapes(self) -> Sequence[tuple]:
        if self.shapes is not None:
            return self.shapes
        if self.nargs == 1:
            return [(s,) for s in UNARY_SHAPES]
        if self.nargs == 2:
            return BINARY_SHAPES
        return [tuple(s for _ in range(self.nargs)) for s in UNARY_SHAPES]


def all_records() -> list[OpRecord]:
    """RECORDS from every `records_*.py` module next to this file."""
    import os
    here = os.path.dirname(__file__)
    records: list[OpRecord] = []
    for info in sorted(pkgutil.iter_modules([here]), key=lambda m: m.name):
        if info.name.startswith("records_"):
            spec = importlib.util.spec_from_file_location(info.name, os.path.join(here, info.name + ".py"))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            records.extend(module.RECORDS)
    names = [r.name for r in records]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate OpRecord names: {dupes}"
    return records
