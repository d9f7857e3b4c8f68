"""The annotation aliases jax.lax exports, for code that types its arguments as jax's
(`def f(dn: lax.DotDimensionNumbers)`): re-exported from the modules that define them.
"""
from lamina.lax.convolution import ConvGeneralDilatedDimensionNumbers
from lamina.lax.dots import DotDimensionNumbers, PrecisionLike

__all__ = ["ConvGeneralDilatedDimensionNumbers", "DotDimensionNumbers", "PrecisionLike"]
