"""lamina.numpy: jax.numpy's API on lamina arrays, as compositions of lamina.lax.

Importing this package installs operators and methods on `Array` and `Tracer`.
"""
from lamina.numpy.dtype_api import *  # noqa: F401,F403
from lamina.numpy.creation import *  # noqa: F401,F403
from lamina.numpy.shape_ops import *  # noqa: F401,F403
from lamina.numpy.joining import *  # noqa: F401,F403
from lamina.numpy.padding import *  # noqa: F401,F403
from lamina.numpy.ufuncs import *  # noqa: F401,F403
from lamina.numpy.math_funcs import *  # noqa: F401,F403
from lamina.numpy.rounding import *  # noqa: F401,F403
from lamina.numpy.logic import *  # noqa: F401,F403
from lamina.numpy.differences import *  # noqa: F401,F403
from lamina.numpy.reductions import *  # noqa: F401,F403
from lamina.numpy.nan_reductions import *  # noqa: F401,F403
from lamina.numpy.statistics import *  # noqa: F401,F403
from lamina.numpy.selection import *  # noqa: F401,F403
from lamina.numpy.setops import *  # noqa: F401,F403
from lamina.numpy.index_tricks import *  # noqa: F401,F403
from lamina.numpy.sorting import *  # noqa: F401,F403
from lamina.numpy.tensor import *  # noqa: F401,F403
from lamina.numpy.vectorize import *  # noqa: F401,F403
from lamina.numpy.polynomial import *  # noqa: F401,F403
from lamina.numpy.windows import *  # noqa: F401,F403
from lamina.numpy.bit_packing import *  # noqa: F401,F403
from lamina.numpy.array_updates import *  # noqa: F401,F403
from lamina.numpy.histograms import *  # noqa: F401,F403
from lamina.numpy.printing import *  # noqa: F401,F403
# lamina warns with numpy's ComplexWarning when a cast drops imaginary parts (as jax).
from numpy.exceptions import ComplexWarning as ComplexWarning  # noqa: F401
from lamina.numpy import linalg as linalg  # noqa: F401
from lamina.numpy import fft as fft  # noqa: F401
from lamina.numpy import _array_methods

_array_methods.install()
del _array_methods
