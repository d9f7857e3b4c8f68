"""lamina: NumPy-on-XLA arrays and composable function transformations.

The public surface mirrors `jax`: `lamina.numpy` ≈ `jax.numpy`, `lamina.lax` ≈
`jax.lax`, `lamina.tree_util` ≈ `jax.tree_util`, and the transformations (`jit`,
`grad`, `vmap`...) and device functions below.
"""
from lamina.config import config as config, debug_infs as debug_infs, debug_nans as debug_nans
from lamina.backend.array import Array as Array
from lamina.backend.client import (
    default_backend as default_backend,
    device_count as device_count,
    devices as devices,
    local_device_count as local_device_count,
    local_devices as local_devices,
    process_count as process_count,
    process_index as process_index,
    process_indices as process_indices,
)
from lamina.ir import ShapeDtypeStruct as ShapeDtypeStruct
from lamina._caches import clear_caches as clear_caches
from lamina._device_api import (
    block_until_ready as block_until_ready,
    device_get as device_get,
    device_put as device_put,
)
from lamina import dtypes as dtypes
from lamina import errors as errors
from lamina import tree_util as tree_util
from lamina import lax as lax
from lamina import numpy as numpy
from lamina import random as random
from lamina._api_jit import (
    eval_shape as eval_shape,
    jit as jit,
    make_jaxpr as make_jaxpr,
)
from lamina._api_ad import (
    grad as grad,
    hessian as hessian,
    jacfwd as jacfwd,
    jacrev as jacrev,
    jvp as jvp,
    linearize as linearize,
    value_and_grad as value_and_grad,
    vjp as vjp,
)
from lamina._api_batching import vmap as vmap
from lamina._api_pmap import pmap as pmap
from lamina import sharding as sharding
from lamina.sharding import make_mesh as make_mesh, PartitionSpec as P
from lamina._api_shard_map import shard_map as shard_map
from lamina import _spmd as _spmd  # noqa: F401  (partitioned jit_p execution)
from lamina import distributed as distributed
from lamina.distributed import (
    make_array_from_process_local_data as make_array_from_process_local_data,
)
from lamina._make_array import (
    make_array_from_callback as make_array_from_callback,
    make_array_from_single_device_arrays as make_array_from_single_device_arrays,
)
from lamina.custom_derivatives import (
    custom_jvp as custom_jvp,
    custom_vjp as custom_vjp,
)
from lamina.lax.callbacks import pure_callback as pure_callback
from lamina import debug as debug
from lamina.ad_checkpoint import (
    checkpoint as checkpoint,
    checkpoint_policies as checkpoint_policies,
    remat as remat,
)

__version__ = "0.1.0.dev0"
