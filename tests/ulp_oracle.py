"""Shared by the scipy.special test files: x64 on/off for lamina and jax together, and
the distance between two results in units of the last place."""
import jax
import numpy as np

import lamina

f32, f64 = np.float32, np.float64


def _x64(dtype):
    if dtype == f64:
        return lamina.config.override(enable_x64=True), jax.enable_x64(True)
    return lamina.config.override(), jax.enable_x64(jax.config.jax_enable_x64)


def _ulps(got, want, dtype):
    """The largest distance in units of the last place (NaN must match NaN)."""
    got, want = np.asarray(got, f64), np.asarray(want, f64)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    same = (got == want) | np.isnan(want)
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(f64)
    spacing = np.where(np.isfinite(spacing) & (spacing > 0), spacing, np.finfo(dtype).tiny)
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(got - want) / spacing)
    return float(np.max(diff, initial=0.0))
