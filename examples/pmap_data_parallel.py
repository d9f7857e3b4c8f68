"""Data parallelism with `lamina.pmap`: one model replica per device, gradients averaged.

What it shows: the classic JAX data-parallel step. Parameters and optimizer state are
replicated (one copy per device, stacked on a leading axis), each global batch is split
into one shard per device, every device computes the gradient of its shard, and
`lax.pmean(grads, "batch")` averages them over devices (an all-reduce) so that every
replica applies the same update and the replicas stay identical. The example checks
that one data-parallel step equals one ordinary `jit` step on the whole global batch,
then trains an MLP on scikit-learn's bundled digits and prints the final test accuracy
(about 98% with the defaults).

Devices: lamina's CPU client has ONE device unless it is asked for more before it
starts (as jax with `--xla_force_host_platform_device_count`). This script asks for 4
itself, by setting `LAMINA_NUM_CPU_DEVICES=4` before importing lamina unless the
variable is already set; on the command line the same is

    LAMINA_NUM_CPU_DEVICES=4 python examples/pmap_data_parallel.py

Run from the project root:

    python examples/pmap_data_parallel.py              # 4 CPU devices, 400 steps
    python examples/pmap_data_parallel.py --steps 20   # a quick look
    LAMINA_NUM_CPU_DEVICES=2 python examples/pmap_data_parallel.py   # 2 devices

On a CPU the devices share the same cores, so this shows the mechanics, not a speedup.
"""
# %%
import os

# NOTE: must precede `import lamina`'s first use of the backend: the device count is
# fixed when the CPU client starts.
os.environ.setdefault("LAMINA_NUM_CPU_DEVICES", "4")

import argparse  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import lamina  # noqa: E402
import lamina.numpy as lnp  # noqa: E402
from lamina import lax, nn, optim, random, tree_util  # noqa: E402

parser = argparse.ArgumentParser(description="pmap data parallelism on digits.")
parser.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
parser.add_argument("--batch-size", type=int, default=128, help="global batch size")
parser.add_argument("--log-every", type=int, default=100)
args, _ = parser.parse_known_args()   # NOTE: known args only, so it also runs as a notebook

n_dev = lamina.local_device_count()
if args.batch_size % n_dev:
    raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the "
                     f"{n_dev} devices")
print(f"{n_dev} devices: {lamina.local_devices()}; global batch {args.batch_size} = "
      f"{n_dev} x {args.batch_size // n_dev}")

digits = load_digits()
x_all = (digits.data / 16.0).astype(np.float32)
y_all = digits.target.astype(np.int32)
perm = np.random.default_rng(0).permutation(len(x_all))
n_test = len(x_all) // 5
x_test, y_test = x_all[perm[:n_test]], y_all[perm[:n_test]]
x_train, y_train = x_all[perm[n_test:]], y_all[perm[n_test:]]

model = nn.Sequential((nn.Dense(128), nn.relu, nn.Dense(10)))
params = model.init(random.PRNGKey(0), x_train[:1])["params"]
tx = optim.adam(3e-3)
opt_state = tx.init(params)


def loss_fn(params, x, y):
    logits = model.apply({"params": params}, x)
    return optim.softmax_cross_entropy_with_integer_labels(logits, y).mean()


# %% [markdown]
# ## The data-parallel step: per-device gradients, averaged with `pmean` over "batch"

# %%
def train_step(params, opt_state, x, y):
    loss, grads = lamina.value_and_grad(loss_fn)(params, x, y)   # this device's shard
    grads = lax.pmean(grads, axis_name="batch")                  # all-reduce: the mean
    loss = lax.pmean(loss, axis_name="batch")
    updates, opt_state = tx.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, loss


p_train_step = lamina.pmap(train_step, axis_name="batch")


def replicate(tree):
    """One copy per device, stacked on a new leading axis (what pmap maps over)."""
    return tree_util.tree_map(
        lambda x: np.broadcast_to(np.asarray(x), (n_dev,) + np.shape(x)), tree)


def shard(x):
    """(global_batch, ...) -> (devices, global_batch // devices, ...)."""
    return x.reshape((n_dev, -1) + x.shape[1:])


# %% [markdown]
# ## Check: one data-parallel step equals one single-device step on the global batch

# %%
@lamina.jit
def single_device_step(params, opt_state, x, y):
    loss, grads = lamina.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, loss


xb, yb = x_train[:args.batch_size], y_train[:args.batch_size]
ref_params, _, ref_loss = single_device_step(params, opt_state, xb, yb)
dp_params, _, dp_loss = p_train_step(replicate(params), replicate(opt_state), shard(xb),
                                     shard(yb))
for ref, got in zip(tree_util.tree_leaves(ref_params), tree_util.tree_leaves(dp_params)):
    got = np.asarray(got)
    for d in range(n_dev):   # every replica holds the single-device result
        np.testing.assert_allclose(got[d], np.asarray(ref), rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(np.asarray(dp_loss), float(ref_loss), rtol=1e-5)
print(f"one step on {n_dev} devices == one step on 1 device (loss {float(ref_loss):.4f})")

# %% [markdown]
# ## Training: the replicated state stays on the devices between steps

# %%
r_params, r_opt_state = replicate(params), replicate(opt_state)
rng = np.random.default_rng(0)
order, pos = rng.permutation(len(x_train)), 0
for step in range(1, args.steps + 1):
    if pos + args.batch_size > len(order):          # next epoch: reshuffle
        order, pos = rng.permutation(len(x_train)), 0
    idx = order[pos:pos + args.batch_size]
    pos += args.batch_size
    r_params, r_opt_state, loss = p_train_step(r_params, r_opt_state, shard(x_train[idx]),
                                               shard(y_train[idx]))
    if step % args.log_every == 0 or step == args.steps:
        print(f"step {step:4d}  loss {float(np.asarray(loss)[0]):.4f}")

# the replicas never diverged: take device 0's copy
for leaf in tree_util.tree_leaves(r_params):
    leaf = np.asarray(leaf)
    assert all(np.array_equal(leaf[0], leaf[d]) for d in range(n_dev))
final = tree_util.tree_map(lambda x: np.asarray(x)[0], r_params)
logits = model.apply({"params": final}, x_test)
print(f"test accuracy {float((lnp.argmax(logits, axis=-1) == y_test).mean()):.4f}")
