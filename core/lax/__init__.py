"""lamina.lax: the primitive operations, with jax.lax's names and semantics.

Each family module lists its public wrappers in `__all__`; this namespace re-exports
them. `lamina.lax.linalg` is a submodule, as `jax.lax.linalg`.
"""
from lamina.lax.elementwise import *  # noqa: F401,F403
from lamina.lax.structural import *  # noqa: F401,F403
from lamina.lax.reductions import *  # noqa: F401,F403
from lamina.lax.dots import *  # noqa: F401,F403
from lamina.lax.convolution import *  # noqa: F401,F403
from lamina.lax.indexing import *  # noqa: F401,F403
from lamina.lax.fft import *  # noqa: F401,F403
from lamina.lax.control_flow import *  # noqa: F401,F403
from lamina.lax.solves import *  # noqa: F401,F403
from lamina.lax.special import *  # noqa: F401,F403
from lamina.lax.bessel import *  # noqa: F401,F403
from lamina.lax import linalg as linalg  # noqa: F401
from lamina.lax import calls as _calls  # noqa: F401  (jit_p and its rules)
from lamina.lax.collectives import *  # noqa: F401,F403
from lamina.lax.parallel_conveniences import *  # noqa: F401,F403
from lamina.lax.sharding_ops import *  # noqa: F401,F403
from lamina.lax.conveniences import *  # noqa: F401,F403
from lamina.lax.rng import *  # noqa: F401,F403
from lamina.lax.barriers import *  # noqa: F401,F403
from lamina.lax.platform import *  # noqa: F401,F403
from lamina.lax.composites import *  # noqa: F401,F403
from lamina.lax.ann import *  # noqa: F401,F403
from lamina.lax.patches import *  # noqa: F401,F403
from lamina.lax.ragged import *  # noqa: F401,F403
from lamina.lax.scatter_apply import *  # noqa: F401,F403
from lamina.lax.type_aliases import *  # noqa: F401,F403
