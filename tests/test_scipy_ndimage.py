"""lamina.scipy.ndimage.map_coordinates and lamina.scipy.interpolate.RegularGridInterpolator
against jax.scipy (and scipy): every mode, order 0 and 1, integer inputs, fill values,
pytree/jit use, vmap, gradients and errors."""
import jax
import jax.numpy as jnp
import jax.scipy.interpolate as jinterp
import jax.scipy.ndimage as jnd
import numpy as np
import pytest
import scipy.ndimage

import lamina
import lamina.numpy as lnp
from lamina.scipy import interpolate as linterp
from lamina.scipy import ndimage as lnd

MODES = ["constant", "nearest", "wrap", "mirror", "reflect"]


def _image_and_coords(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(size=(5, 6)).astype(np.float32)
    coords = [rng.uniform(-4, 9, size=(4, 3)).astype(np.float32),
              rng.uniform(-4, 10, size=(4, 3)).astype(np.float32)]
    coords[0][0, 0], coords[1][0, 1] = 2.5, -0.5  # halfway cases round away from zero
    return img, coords


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_matches_jax_and_scipy(mode, order):
    img, coords = _image_and_coords()
    for image in (img, (img * 10).astype(np.int32)):
        ours = lnd.map_coordinates(image, coords, order, mode=mode, cval=1.5)
        theirs = jnd.map_coordinates(image, coords, order, mode=mode, cval=1.5)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5,
                                   atol=1e-5)
    if order == 1 and mode != "constant":
        # scipy agrees for linear interpolation (its 'constant' differs near edges).
        ref = scipy.ndimage.map_coordinates(img.astype(np.float64), coords, order=1,
                                            mode="grid-wrap" if mode == "wrap" else mode)
        np.testing.assert_allclose(np.asarray(lnd.map_coordinates(img, coords, 1, mode)),
                                   ref, rtol=1e-4, atol=1e-5)


def test_map_coordinates_jit_vmap_grad():
    img, coords = _image_and_coords(1)
    f = lamina.jit(lambda im, c: lnd.map_coordinates(im, [c[0], c[1]], 1, mode="reflect"))
    stacked = np.stack(coords)
    imgs = np.stack([img, img * 2])
    np.testing.assert_allclose(np.asarray(lamina.vmap(f, in_axes=(0, None))(imgs, stacked)),
                               np.stack([np.asarray(f(i, stacked)) for i in imgs]),
                               rtol=1e-6)
    g = lamina.grad(lambda im: lnd.map_coordinates(im, coords, 1).sum())(img)
    want = jax.grad(lambda im: jnd.map_coordinates(im, coords, 1).sum())(img)
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_float64():
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        img, coords = _image_and_coords(4)
        img, coords = img.astype(np.float64), [c.astype(np.float64) for c in coords]
        ours = lnd.map_coordinates(img, coords, 1, mode="mirror")
        assert ours.dtype == np.float64
        np.testing.assert_allclose(np.asarray(ours),
                                   np.asarray(jnd.map_coordinates(img, coords, 1, "mirror")),
                                   rtol=1e-13)
        grid, values, xi = _grid(5)
        grid = tuple(g.astype(np.float64) for g in grid)
        out = linterp.RegularGridInterpolator(grid, values.astype(np.float64))(xi)
        want = jinterp.RegularGridInterpolator(grid, values.astype(np.float64))(xi)
        assert out.dtype == want.dtype == np.float64
        np.testing.assert_allclose(np.asarray(out), np.asarray(want), rtol=1e-13,
                                   equal_nan=True)


def test_map_coordinates_errors():
    img, coords = _image_and_coords()
    with pytest.raises(ValueError, match=r"input.ndim \(2\) arrays, one per axis, got 1"):
        lnd.map_coordinates(img, coords[:1], 1)
    with pytest.raises(NotImplementedError, match="mode 'grid-wrap' is not supported"):
        lnd.map_coordinates(img, coords, 1, mode="grid-wrap")
    with pytest.raises(NotImplementedError, match="order=3"):
        lnd.map_coordinates(img, coords, 3)


def _grid(seed=2):
    rng = np.random.default_rng(seed)
    grid = (np.linspace(0, 1, 4).astype(np.float32), np.array([0, .5, 2, 3], np.float32))
    values = rng.normal(size=(4, 4, 2)).astype(np.float32)
    xi = rng.uniform(-0.2, 3.2, size=(7, 2)).astype(np.float32)
    xi[0] = [0.5, 1.0]
    return grid, values, xi


@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_regular_grid_interpolator(method):
    grid, values, xi = _grid()
    for fill in (np.nan, None, 0.0):
        ours = linterp.RegularGridInterpolator(grid, values, method=method,
                                               fill_value=fill)(xi)
        theirs = jinterp.RegularGridInterpolator(grid, values, method=method,
                                                 fill_value=fill)(xi)
        assert ours.shape == theirs.shape == (7, 2) and ours.dtype == theirs.dtype
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5,
                                   atol=1e-5, equal_nan=True)
    inside = np.clip(xi, 0, 1)
    f = linterp.RegularGridInterpolator(grid, values[..., 0], method=method)
    ref = scipy.interpolate.RegularGridInterpolator(grid, values[..., 0], method=method)
    np.testing.assert_allclose(np.asarray(f(inside)), ref(inside), rtol=1e-5, atol=1e-5)
    # a tuple of coordinate arrays, another method per call
    np.testing.assert_allclose(np.asarray(f((inside[:, 0], inside[:, 1]), method="linear")),
                               np.asarray(f(inside, method="linear")), rtol=1e-6)


def test_regular_grid_interpolator_pytree_jit_grad_errors():
    grid, values, xi = _grid(3)
    f = linterp.RegularGridInterpolator(grid, values[..., 0])
    jitted = lamina.jit(lambda interp, x: interp(x))(f, xi)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(f(xi)), rtol=1e-6,
                               equal_nan=True)
    inside = np.clip(xi, 0.05, 0.95)
    g = lamina.grad(lambda v: linterp.RegularGridInterpolator(grid, v)(inside).sum())(
        values[..., 0])
    want = jax.grad(lambda v: jinterp.RegularGridInterpolator(grid, v)(inside).sum())(
        values[..., 0])
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="method must be 'linear' or 'nearest'"):
        linterp.RegularGridInterpolator(grid, values, method="cubic")
    with pytest.raises(NotImplementedError, match="bounds_error=True"):
        linterp.RegularGridInterpolator(grid, values, bounds_error=True)
    with pytest.raises(ValueError, match="3 point arrays, but values has only 2"):
        linterp.RegularGridInterpolator(grid + grid[:1], values[..., 0])
    with pytest.raises(ValueError, match=r"dimension 3, but the grid has 2"):
        f(np.zeros((2, 3), np.float32))
