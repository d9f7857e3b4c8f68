"""lamina quickstart: NumPy on XLA.

What it shows: arrays that live on a device, jax's dtype promotion (32-bit defaults,
weakly typed Python scalars), a few `lamina.numpy` and `lamina.lax` operations, and the
error a shape mismatch gives. Every lamina operation is a primitive compiled to XLA
through jaxlib; eager calls run a cached one-primitive executable and the data stays on
the device until you read it. It has no training loop (so no `--steps`); the training
examples are custom_training_loop.py, per_example_gradients.py, pmap_data_parallel.py and
pure_function_model.py.

Run from the project root:

    python examples/quickstart.py
"""
# %%
import numpy as np

import lamina
import lamina.numpy as lnp
from lamina import lax

print("devices:", lamina.devices(), "backend:", lamina.default_backend())

# %% [markdown]
# ## Arrays live on a device

# %%
x = lnp.arange(12.0).reshape(3, 4)
print(x)                      # Array([[ 0.,  1., ...]], dtype=float32)
print(x.shape, x.dtype, x.device)
host = np.asarray(x)          # zero-copy, read-only view of the device buffer
print("back on the host:", type(host).__name__, host.flags.writeable)

# %% [markdown]
# ## dtype promotion follows JAX: 32-bit defaults, weakly-typed Python scalars

# %%
i8 = lnp.ones(3, dtype=lnp.int8)
print("int8 + 1       ->", (i8 + 1).dtype)              # int8: the Python int adapts
print("int8 + 1.5     ->", (i8 + 1.5).dtype)            # float32
print("bf16 + f16     ->", lnp.promote_types(lnp.bfloat16, lnp.float16))  # float32
print("uint8 + int8   ->", (lnp.ones(2, lnp.uint8) + lnp.ones(2, lnp.int8)).dtype)  # int16
print("weak scalar    ->", repr(lnp.asarray(2.0)))     # weak_type=True

# %% [markdown]
# ## A few operations

# %%
w = lnp.linspace(-1.0, 1.0, 4)
y = lnp.tanh(x @ w)                                     # matmul + elementwise
print("tanh(x @ w) =", y)
print("softmax row sums:", (lnp.exp(x) / lnp.exp(x).sum(axis=1, keepdims=True)).sum(axis=1))
print("sorted:", lnp.sort(lnp.array([3, 1, 2])))
print("x[:, 1:3] =", x[:, 1:3])
print("functional update:", x.at[0, 0].set(100.0)[0])
print("lax.dot_general:", lax.dot_general(x, x, (((1,), (1,)), ((), ()))).shape)

# %% [markdown]
# ## Errors say what is wrong and how to fix it

# %%
try:
    lnp.ones((2, 3)) + lnp.ones((4,))
except ValueError as e:
    print("ValueError:", e)
