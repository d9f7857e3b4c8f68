"""The public namespaces mirror jax's: every public name lamina exports exists in jax
under the same module path, and the functions the foundation issue names are all there.
jax is the oracle for names only here; semantics are tested per family under tests/core.
"""
from __future__ import annotations

import inspect
import types

import jax
import jax.lax
import jax.numpy as jnp
import jax.numpy.fft
import jax.numpy.linalg
import jax.debug
import jax.tree_util
import jax.scipy.linalg
import jax.scipy.special
import jax.scipy.stats
import jax.scipy.fft
import jax.scipy.integrate
import jax.scipy.interpolate
import jax.scipy.ndimage
import jax.scipy.optimize
import jax.scipy.signal
import jax.scipy.sparse.linalg
import pytest

import lamina
import lamina.debug
import lamina.lax
import lamina.numpy as lnp
import lamina.numpy.fft
import lamina.numpy.linalg
import lamina.random
import lamina.scipy.linalg
import lamina.scipy.special
import lamina.scipy.stats
import lamina.scipy.fft
import lamina.scipy.integrate
import lamina.scipy.interpolate
import lamina.scipy.ndimage
import lamina.scipy.optimize
import lamina.scipy.signal
import lamina.scipy.sparse.linalg
import lamina.tree_util
import jax.random

# Names lamina adds on purpose; each one says why it is not in jax.
EXTRA_NAMES = {
    "lamina.numpy": {"fix"},  # numpy.fix (round toward zero), which jax.numpy dropped
    # lamina's own layers; `testing` holds the tolerances tests and user code compare with.
    "lamina": {"backend", "interpreters", "ir", "config", "testing"},
    # NamedTuple result types, which jax keeps private but users may want to annotate.
    "lamina.numpy.linalg": {"EigResult", "EighResult", "QRResult", "SVDResult",
                            "SlogdetResult"},
    # Tree helpers jax keeps on PyTreeDef or in private modules; public here so that
    # nn and optim need no private imports.
    "lamina.tree_util": {"broadcast_prefix", "build_tree", "flatten_up_to"},
    # The typed-key class; jax's equivalent lives in jax._src.prng (jax.Array subclass).
    "lamina.random": {"KeyArray"},
}


def _public_functions(module: types.ModuleType) -> set[str]:
    """Callables a user can reach by name, not the helpers a module happens to import
    (submodules are implementation files; the public ones are checked on their own)."""
    names = set(getattr(module, "__all__", ()))
    if not names:
        names = {n for n in dir(module) if not n.startswith("_")}
    return {n for n in names
            if callable(getattr(module, n)) and getattr(getattr(module, n), "__module__", "lamina").startswith("lamina")}


@pytest.mark.parametrize("ours, theirs", [
    (lnp, jnp), (lamina.lax, jax.lax), (lamina.numpy.linalg, jax.numpy.linalg),
    (lamina.numpy.fft, jax.numpy.fft), (lamina.tree_util, jax.tree_util),
    (lamina.random, jax.random), (lamina.debug, jax.debug),
    (lamina.scipy.special, jax.scipy.special), (lamina.scipy.linalg, jax.scipy.linalg),
    (lamina.scipy.fft, jax.scipy.fft),
    (lamina.scipy.integrate, jax.scipy.integrate),
    (lamina.scipy.interpolate, jax.scipy.interpolate),
    (lamina.scipy.ndimage, jax.scipy.ndimage),
    (lamina.scipy.optimize, jax.scipy.optimize),
    (lamina.scipy.signal, jax.scipy.signal),
    (lamina.scipy.sparse.linalg, jax.scipy.sparse.linalg),
    *[(getattr(lamina.scipy.stats, d), getattr(jax.scipy.stats, d))
      for d in lamina.scipy.stats.__dict__ if not d.startswith("_")
      and isinstance(getattr(lamina.scipy.stats, d), types.ModuleType)],
], ids=lambda m: m.__name__)
def test_every_public_name_exists_in_jax(ours, theirs):
    extra = EXTRA_NAMES.get(ours.__name__, set())
    missing_in_jax = sorted(n for n in _public_functions(ours)
                            if not hasattr(theirs, n) and n not in extra)
    assert missing_in_jax == [], f"{ours.__name__} exports names jax does not have"


def test_top_level_names_exist_in_jax():
    # Submodules appear as attributes once imported (by this or another test); lamina's
    # own packages (nn, optim, training) and implementation modules are not API names.
    public = {n for n in dir(lamina) if not n.startswith("_")
              and not (inspect.ismodule(getattr(lamina, n)) and not hasattr(jax, n))}
    extra = EXTRA_NAMES["lamina"]
    assert sorted(n for n in public - extra if not hasattr(jax, n)) == []


def test_numpy_has_at_least_250_jax_numpy_functions():
    common = {n for n in dir(lnp) if not n.startswith("_") and callable(getattr(lnp, n))
              and hasattr(jnp, n)}
    assert len(common) >= 250, len(common)


# The functions the foundation issue names explicitly.
REQUIRED = {
    lnp: """array asarray zeros ones full empty zeros_like ones_like full_like empty_like
        arange linspace logspace eye identity tri tril triu meshgrid diag mean var std median
        quantile percentile average histogram nansum nanmean nanmax nanmin nanstd nanvar
        reshape transpose moveaxis swapaxes squeeze expand_dims concatenate stack hstack
        vstack dstack split array_split tile repeat broadcast_to broadcast_arrays flip roll
        rot90 pad take take_along_axis where nonzero argwhere select choose compress extract
        searchsorted digitize unique sort argsort lexsort partition argpartition all any
        isclose allclose array_equal isnan isinf isfinite logical_and logical_or logical_not
        logical_xor dot vdot matmul inner outer tensordot einsum kron trace cross result_type
        promote_types finfo iinfo""",
    lamina.numpy.linalg: "norm inv solve det slogdet cholesky qr svd eigh pinv matrix_power lstsq",
    lamina.numpy.fft: "fft ifft rfft irfft fftn",
    lamina.lax: """erf erf_inv lgamma digamma logistic integer_pow atan2 nextafter rem clamp
        eq ne lt le gt ge select select_n convert_element_type bitcast_convert_type
        broadcast_in_dim reshape transpose squeeze expand_dims rev slice dynamic_slice
        dynamic_update_slice concatenate pad gather scatter scatter_add scatter_mul
        scatter_min scatter_max iota reduce_sum reduce_max reduce_min reduce_prod reduce_and
        reduce_or argmax argmin cumsum cumprod cummax cummin sort top_k dot_general
        conv_general_dilated reduce_window reduce_precision""",
    lamina: """devices device_count default_backend device_put device_get
        block_until_ready Array ShapeDtypeStruct pure_callback debug_nans""",
    lamina.debug: "print callback",
}


@pytest.mark.parametrize("module", list(REQUIRED), ids=lambda m: m.__name__)
def test_required_functions_exist(module):
    missing = [n for n in REQUIRED[module].split() if not hasattr(module, n)]
    assert missing == []
