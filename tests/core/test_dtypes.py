"""lamina.dtypes against jax's dtype rules (jax is the oracle, imported only here)."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax._src import core as jax_core
from jax._src import dtypes as jax_dtypes
from lamina import dtypes
from lamina.config import config

ALL_DTYPES = [
    np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
]
WEAK_TYPES = [int, float, complex]
ABSTRACT_CLASSES = [
    np.generic,
    np.number,
    np.inexact,
    np.floating,
    np.complexfloating,
    np.integer,
    np.signedinteger,
    np.unsignedinteger,
    np.bool_,
]


@contextlib.contextmanager
def x64(enabled: bool) -> Iterator[None]:
    """Sets x64 in both lamina and jax, restoring both afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        with config.override(enable_x64=enabled):
            yield
    finally:
        jax.config.update("jax_enable_x64", old)


@contextlib.contextmanager
def quiet_jax() -> Iterator[None]:
    # jax warns when a 64-bit dtype is requested with x64 off; lamina truncates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


class Weak:
    """Stands in for a lamina/jax value: has `.dtype`, `.weak_type` and `.aval`."""

    def __init__(self, dtype: Any, weak_type: bool = True) -> None:
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type
        self.aval = self  # jax reads x.aval.weak_type, lamina x.weak_type

    def __repr__(self) -> str:
        return f"Weak({self.dtype}, {self.weak_type})"


def jax_canonical(dtype: Any) -> np.dtype:
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def test_constants_and_supported_set() -> None:
    assert len(dtypes.SUPPORTED_DTYPES) == 15
    assert set(dtypes.SUPPORTED_DTYPES) == set(ALL_DTYPES)
    assert all(isinstance(d, np.dtype) for d in dtypes.SUPPORTED_DTYPES)
    assert dtypes.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    assert dtypes.bool_ == np.dtype(bool)
    assert dtypes.complex128 == np.dtype(np.complex128)


@pytest.mark.parametrize("enabled", [False, True])
def test_defaults_follow_x64(enabled: bool) -> None:
    with x64(enabled):
        assert dtypes.x64_enabled() is enabled
        assert dtypes.default_int_dtype() == jax_dtypes.default_int_dtype()
        assert dtypes.default_uint_dtype() == jax_dtypes.default_uint_dtype()
        assert dtypes.default_float_dtype() == jax_dtypes.default_float_dtype()
        assert dtypes.default_complex_dtype() == jax_dtypes.default_complex_dtype()


@pytest.mark.parametrize("enabled", [False, True])
def test_canonicalize_dtype_matches_jax(enabled: bool) -> None:
    spellings: list[tuple[Any, Any]] = []  # (spelling, what jax is asked about)
    for d in ALL_DTYPES:
        spellings += [(s, d) for s in (d, d.type, d.name, np.zeros((), d), d.type(0))]
    spellings += [(t, t) for t in (bool, int, float, complex)]
    spellings += [(s, np.dtype(s)) for s in ("float", "int", "f4", "c16")]
    with x64(enabled):
        for s, d in spellings:
            assert dtypes.canonicalize_dtype(s) == jax_canonical(d), s


def test_canonicalize_cache_sees_flag_changes() -> None:
    with config.override(enable_x64=False):
        assert dtypes.canonicalize_dtype("float64") == np.float32
        assert dtypes.canonicalize_dtype(int) == np.int32
    with config.override(enable_x64=True):
        assert dtypes.canonicalize_dtype("float64") == np.float64
        assert dtypes.canonicalize_dtype(int) == np.int64
    with config.override(enable_x64=False):
        assert dtypes.canonicalize_dtype(np.uint64) == np.uint32


@pytest.mark.parametrize(
    "bad, name",
    [
        (np.dtype(object), "object"),
        (object, "object"),
        (str, "str"),
        (np.dtype("U5"), "<U5"),
        (np.dtype(np.longdouble), str(np.dtype(np.longdouble))),
        (np.dtype("datetime64[s]"), "datetime64[s]"),
        (ml_dtypes.float8_e4m3fn, "float8_e4m3fn"),
        (">f4", ">f4"),
        ("not_a_dtype", "not_a_dtype"),
        (None, "None"),
        (3.0, "3.0"),
    ],
)
def test_canonicalize_dtype_rejects_unsupported(bad: Any, name: str) -> None:
    with pytest.raises(TypeError, match="supported dtypes: bool, int8") as err:
        dtypes.canonicalize_dtype(bad)
    assert name in str(err.value)


def test_check_user_dtype_supported() -> None:
    with config.override(enable_x64=False):
        assert dtypes.check_user_dtype_supported(np.float64, "f") == np.float32
        assert dtypes.check_user_dtype_supported(float, "f") == np.float32
    with pytest.raises(TypeError) as err:
        dtypes.check_user_dtype_supported(object, "lamina.numpy.zeros")
    assert str(err.value).startswith(
        "lamina.numpy.zeros: dtype object is not supported; supported dtypes: bool,"
    )


@pytest.mark.parametrize("enabled", [False, True])
def test_promote_types_full_table(enabled: bool) -> None:
    nodes: list[Any] = [*ALL_DTYPES, *WEAK_TYPES, bool]
    mismatches = []
    with x64(enabled):
        for a, b in itertools.product(nodes, nodes):
            want = jax_canonical(jnp.promote_types(a, b))
            got = dtypes.promote_types(a, b)
            if got != want or not isinstance(got, np.dtype):
                mismatches.append((a, b, got, want))
    assert not mismatches, mismatches


@pytest.mark.parametrize(
    "a, b, off, on",
    [
        ("int8", "uint8", "int16", "int16"),
        ("uint32", "int32", "int32", "int64"),  # x64 off: u32 x i32 stays 32-bit
        ("int64", "uint64", "float32", "float64"),
        ("uint64", "int8", "float32", "float64"),
        ("bfloat16", "float16", "float32", "float32"),
        ("int32", "float16", "float16", "float16"),
        ("uint8", int, "uint8", "uint8"),
        ("float16", float, "float16", "float16"),
        ("bfloat16", complex, "complex64", "complex64"),
        (int, int, "int32", "int64"),
        (bool, float, "float32", "float64"),
        ("float64", "complex64", "complex64", "complex128"),
    ],
)
def test_promote_types_examples(a: Any, b: Any, off: str, on: str) -> None:
    for enabled, want in ((False, off), (True, on)):
        with config.override(enable_x64=enabled):
            assert dtypes.promote_types(a, b) == np.dtype(want)
            assert dtypes.promote_types(b, a) == np.dtype(want)


def test_promote_types_rejects_unsupported() -> None:
    with pytest.raises(TypeError, match="object"):
        dtypes.promote_types(object, np.float32)


def _result_type_candidates() -> list[tuple[Any, Any]]:
    """(lamina argument, jax argument) pairs covering every way a dtype can arrive."""
    out: list[tuple[Any, Any]] = []
    for d in ALL_DTYPES:
        out.append((np.zeros((), d), np.zeros((), d)))  # strong arrays
        out.append((d, d))  # dtypes
        if d != np.bool_:
            out.append((Weak(d), Weak(d)))  # weakly typed lamina/jax values
    for s in (True, 1, -1, 2.0, 1j, np.float32(1.0), np.int8(3)):
        out.append((s, s))
    for t in (int, float, complex):
        out.append((t, t))
    return out


@pytest.mark.parametrize("enabled", [False, True])
def test_result_type_pairs_match_jax(enabled: bool) -> None:
    candidates = _result_type_candidates()
    mismatches = []
    with x64(enabled), quiet_jax():
        for (la, ja), (lb, jb) in itertools.product(candidates, candidates):
            want = jax_dtypes.result_type(ja, jb, return_weak_type_flag=True)
            got = dtypes.result_type(la, lb, return_weak_type_flag=True)
            if got != want:
                mismatches.append((la, lb, got, want))
        for la, ja in candidates:
            want = jax_dtypes.result_type(ja, return_weak_type_flag=True)
            got = dtypes.result_type(la, return_weak_type_flag=True)
            if got != want:
                mismatches.append((la, got, want))
    assert not mismatches, mismatches[:20]


@pytest.mark.parametrize("enabled", [False, True])
def test_result_type_triples_match_jax(enabled: bool) -> None:
    picks = [
        np.dtype("int8"),
        np.dtype("uint8"),
        np.dtype("bfloat16"),
        np.dtype("float16"),
        np.dtype("uint32"),
        np.dtype("int64"),
    ]
    mismatches = []
    with x64(enabled), quiet_jax():
        seconds = [*picks, 1, 2.0]
        for a, b, c in itertools.product(picks, seconds, [Weak("int16"), 1j]):
            args = (
                np.zeros((), a),
                np.zeros((), b) if isinstance(b, np.dtype) else b,
                c,
            )
            want = jax_dtypes.result_type(*args, return_weak_type_flag=True)
            got = dtypes.result_type(*args, return_weak_type_flag=True)
            if got != want:
                mismatches.append((args, got, want))
    assert not mismatches, mismatches


@pytest.mark.parametrize("enabled", [False, True])
@pytest.mark.parametrize(
    "dt, scalar",
    [
        ("int32", 2.0),
        ("bfloat16", 1),
        ("bfloat16", 2.0),
        ("uint8", -1),
        ("int8", 1j),
        ("float16", 3),
        ("bool", 1),
        ("bool", True),
        ("int64", 1.5),
        ("uint32", 7),
    ],
)
def test_result_type_with_jax_arrays(enabled: bool, dt: str, scalar: Any) -> None:
    with x64(enabled), quiet_jax():
        want = jax_dtypes.result_type(
            jnp.zeros((), dt), scalar, return_weak_type_flag=True
        )
        got = dtypes.result_type(np.zeros((), dt), scalar, return_weak_type_flag=True)
    assert got == want


@pytest.mark.parametrize("enabled", [False, True])
@pytest.mark.parametrize("args", [(3, 4.0), (True, 1), (1, 1j), (True, False), (2,)])
def test_result_type_python_scalars(enabled: bool, args: tuple[Any, ...]) -> None:
    with x64(enabled):
        want = jax_dtypes.result_type(*args, return_weak_type_flag=True)
        assert dtypes.result_type(*args, return_weak_type_flag=True) == want
        assert dtypes.result_type(*args) == want[0]


def test_result_type_requires_an_argument() -> None:
    with pytest.raises(ValueError, match="at least one"):
        dtypes.result_type()


def test_issubdtype_table_matches_jax() -> None:
    lefts: list[Any] = [*ALL_DTYPES, *(d.type for d in ALL_DTYPES)]
    lefts += [bool, int, float, complex, "bfloat16", "float32", ml_dtypes.float8_e5m2]
    rights: list[Any] = [*ABSTRACT_CLASSES, *ALL_DTYPES, ml_dtypes.bfloat16, float]
    mismatches = [
        (a, b)
        for a, b in itertools.product(lefts, rights)
        if dtypes.issubdtype(a, b) != jnp.issubdtype(a, b)
    ]
    assert not mismatches, mismatches


def test_predicates() -> None:
    for d in ALL_DTYPES:
        assert dtypes.is_bool(d) == (d == np.bool_)
        assert dtypes.is_integer(d) == jnp.issubdtype(d, np.integer)
        assert dtypes.is_signed_integer(d) == jnp.issubdtype(d, np.signedinteger)
        assert dtypes.is_unsigned_integer(d) == jnp.issubdtype(d, np.unsignedinteger)
        assert dtypes.is_floating(d) == jnp.issubdtype(d, np.floating)
        assert dtypes.is_complex(d) == jnp.issubdtype(d, np.complexfloating)
        assert dtypes.is_inexact(d) == jnp.issubdtype(d, np.inexact)
    assert dtypes.is_floating(np.zeros(2, ml_dtypes.bfloat16))
    assert dtypes.is_floating("bfloat16") and not dtypes.is_integer(bool)


def _info_fields(info: Any) -> tuple[Any, ...]:
    return (info.dtype, info.bits, info.eps, info.max, info.min, info.tiny)


@pytest.mark.parametrize("d", ALL_DTYPES, ids=str)
def test_finfo_iinfo(d: np.dtype) -> None:
    if jnp.issubdtype(d, np.inexact):
        ref = ml_dtypes.finfo(d) if d == ml_dtypes.bfloat16 else np.finfo(d)
        assert _info_fields(dtypes.finfo(d)) == _info_fields(ref)
        assert _info_fields(dtypes.finfo(d.name)) == _info_fields(jnp.finfo(d))
        with pytest.raises(ValueError, match="iinfo"):
            dtypes.iinfo(d)
    elif jnp.issubdtype(d, np.integer):
        got, ref = dtypes.iinfo(d), np.iinfo(d)
        assert (got.dtype, got.bits, got.min, got.max) == (
            ref.dtype,
            8 * d.itemsize,
            ref.min,
            ref.max,
        )
        assert (got.min, got.max) == (jnp.iinfo(d).min, jnp.iinfo(d).max)
        with pytest.raises(ValueError, match="finfo"):
            dtypes.finfo(d)
    else:
        with pytest.raises(ValueError):
            dtypes.iinfo(d)
        with pytest.raises(ValueError):
            dtypes.finfo(d)


def test_finfo_takes_python_types_literally() -> None:
    with x64(False):
        assert dtypes.finfo(float).dtype == jnp.finfo(float).dtype == np.float64
        assert dtypes.iinfo(int).max == jnp.iinfo(int).max


@pytest.mark.parametrize("enabled", [False, True])
def test_to_inexact_dtype_matches_jax(enabled: bool) -> None:
    with x64(enabled):
        for d in ALL_DTYPES:
            assert dtypes.to_inexact_dtype(d) == jax_dtypes.to_inexact_dtype(d), d


def test_real_dtype_and_scalar_type() -> None:
    assert dtypes.real_dtype(np.complex64) == np.float32
    assert dtypes.real_dtype(np.complex128) == np.float64
    assert dtypes.real_dtype("bfloat16") == ml_dtypes.bfloat16
    assert dtypes.real_dtype(np.int8) == np.int8
    for d in ALL_DTYPES:
        assert dtypes.scalar_type_of(d) is d.type
    assert dtypes.scalar_type_of("bfloat16") is ml_dtypes.bfloat16


def test_short_name_matches_jax_str_short() -> None:
    for d in ALL_DTYPES:
        want = jax_core.ShapedArray((3, 4), d).str_short(short_dtypes=True)
        assert f"{dtypes.short_name(d)}[3,4]" == want
    assert dtypes.short_name("bfloat16") == "bf16"
    assert dtypes.short_name(np.zeros(1, np.uint32)) == "u32"


@pytest.mark.parametrize("enabled", [False, True])
def test_dtype_of(enabled: bool) -> None:
    with x64(enabled), quiet_jax():
        for x in [1, 2.0, 1j, True, np.float64(1.0), np.int8(1), int, "float64"]:
            assert dtypes.dtype_of(x) == jax_dtypes.dtype(x), x
        for d in ALL_DTYPES:
            assert dtypes.dtype_of(np.zeros(2, d)) == jax_canonical(d)
            assert dtypes.dtype_of(np.zeros(2, d), canonicalize=False) == d
            assert dtypes.dtype_of(Weak(d)) == jax_canonical(d)
    with pytest.raises(TypeError, match="object"):
        dtypes.dtype_of(np.array([None]))
    for bad in (None, [1, 2], "not_a_dtype"):
        with pytest.raises(TypeError):
            dtypes.dtype_of(bad)


def test_python_scalars_and_weak_types() -> None:
    for x in (True, 1, 2.0, 1j):
        assert dtypes.is_python_scalar(x)
    for x in (np.float64(1.0), np.int32(1), np.zeros(()), "1", None):
        assert not dtypes.is_python_scalar(x)
    for x in (1, 2.0, 1j, Weak("float16"), Weak("int8")):
        assert dtypes.is_weakly_typed(x) and jax_dtypes.is_weakly_typed(x)
    for x in (True, np.float64(1.0), np.zeros(()), Weak("int8", weak_type=False)):
        assert not dtypes.is_weakly_typed(x) and not jax_dtypes.is_weakly_typed(x)
    # jax arrays carry .weak_type too; a weak one comes from a Python scalar.
    assert dtypes.is_weakly_typed(jnp.asarray(2.0)) is True
    assert dtypes.is_weakly_typed(jnp.zeros(())) is False


def test_dtypes_module_does_not_import_jax() -> None:
    code = "import sys, lamina.dtypes; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
