"""Per-example gradients with `vmap(grad(...))`, and the clipping and noise of DP-SGD.

What it shows: `lamina.vmap(lamina.grad(loss), in_axes=(None, 0, 0))` turns the gradient
of ONE example's loss into the gradients of every example of a batch, in one compiled
program (no Python loop, no batch of models). The example checks those gradients, the
per-example gradient norms and the clipped average against a plain Python loop over the
examples, then trains with differentially private SGD (Abadi et al., 2016): every
example's gradient is clipped to norm `--clip`, the clipped gradients are summed,
Gaussian noise of standard deviation `--noise * --clip` is added and the sum is divided
by the batch size. It prints the per-example gradient norms as training goes and the
final test accuracy on scikit-learn's bundled digits (about 94% with the defaults).

Run from the project root:

    python examples/per_example_gradients.py             # 400 steps
    python examples/per_example_gradients.py --steps 20  # a quick look
"""
# %%
import argparse

import numpy as np
from sklearn.datasets import load_digits

import lamina
import lamina.numpy as lnp
from lamina import nn, optim, random, tree_util

parser = argparse.ArgumentParser(description="Per-example gradients and DP-SGD on digits.")
parser.add_argument("--steps", type=int, default=400, help="DP-SGD steps (default 400)")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound")
parser.add_argument("--noise", type=float, default=1.0, help="noise multiplier (sigma)")
parser.add_argument("--log-every", type=int, default=100)
args, _ = parser.parse_known_args()   # NOTE: known args only, so it also runs as a notebook

digits = load_digits()
x_all = (digits.data / 16.0).astype(np.float32)
y_all = digits.target.astype(np.int32)
perm = np.random.default_rng(0).permutation(len(x_all))
n_test = len(x_all) // 5
x_test, y_test = x_all[perm[:n_test]], y_all[perm[:n_test]]
x_train, y_train = x_all[perm[n_test:]], y_all[perm[n_test:]]

model = nn.Sequential((nn.Dense(64), nn.relu, nn.Dense(10)))
params = model.init(random.PRNGKey(0), x_train[:1])["params"]


# %% [markdown]
# ## The loss of one example, and its gradient for every example of a batch

# %%
def example_loss(params, x, y):
    """Cross entropy of a single example: x is (64,), y is a scalar label."""
    logits = model.apply({"params": params}, x[None])          # a batch of one
    return optim.softmax_cross_entropy_with_integer_labels(logits, y[None])[0]


# params are shared (None), x and y are mapped over their first axis (0): every gradient
# leaf gains a leading batch axis.
per_example_grads = lamina.vmap(lamina.grad(example_loss), in_axes=(None, 0, 0))


def per_example_norms(grads):
    """The global L2 norm of each example's gradient: (batch,)."""
    squares = [lnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1)
               for g in tree_util.tree_leaves(grads)]
    return lnp.sqrt(sum(squares))


def clipped_sum(grads, clip):
    """Each example's gradient scaled to norm <= clip, then summed over the batch."""
    norms = per_example_norms(grads)
    scale = lnp.minimum(1.0, clip / (norms + 1e-6))
    return tree_util.tree_map(lambda g: lnp.tensordot(scale, g, axes=1), grads), norms


@lamina.jit
def grads_norms_and_clipped(params, x, y):
    grads = per_example_grads(params, x, y)
    summed, norms = clipped_sum(grads, args.clip)
    return grads, norms, summed


# %% [markdown]
# ## Check: the same numbers from a Python loop over the examples, one `grad` each

# %%
xb, yb = x_train[:8], y_train[:8]
grads, norms, summed = grads_norms_and_clipped(params, xb, yb)
one_grad = lamina.jit(lamina.grad(example_loss))
loop_sum = tree_util.tree_map(np.zeros_like, tree_util.tree_map(np.asarray, params))
for i in range(len(xb)):
    g_i = tree_util.tree_map(np.asarray, one_grad(params, xb[i], yb[i]))
    for a, b in zip(tree_util.tree_leaves(grads), tree_util.tree_leaves(g_i)):
        np.testing.assert_allclose(np.asarray(a)[i], b, rtol=1e-5, atol=1e-6)
    norm_i = np.sqrt(sum(np.sum(b.astype(np.float64) ** 2) for b in tree_util.tree_leaves(g_i)))
    np.testing.assert_allclose(float(norms[i]), norm_i, rtol=1e-5)
    scale_i = min(1.0, args.clip / (norm_i + 1e-6))
    loop_sum = tree_util.tree_map(lambda s, g: s + scale_i * g, loop_sum, g_i)
for a, b in zip(tree_util.tree_leaves(summed), tree_util.tree_leaves(loop_sum)):
    np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6)
# the mean of the per-example gradients is the gradient of the mean loss
batch_grad = lamina.grad(lambda p: lamina.vmap(example_loss, (None, 0, 0))(p, xb, yb).mean())(
    params)
for a, b in zip(tree_util.tree_leaves(grads), tree_util.tree_leaves(batch_grad)):
    np.testing.assert_allclose(np.asarray(a).mean(axis=0), np.asarray(b), rtol=1e-5,
                               atol=1e-6)
print(f"per-example gradients of {len(xb)} examples match a Python loop; norms:",
      np.round(np.asarray(norms), 3))

# %% [markdown]
# ## DP-SGD: clip, sum, add noise, average, update

# %%
tx = optim.sgd(0.1, momentum=0.9)
opt_state = tx.init(params)


@lamina.jit
def dp_step(params, opt_state, x, y, key):
    grads = per_example_grads(params, x, y)
    summed, norms = clipped_sum(grads, args.clip)
    leaves, treedef = tree_util.tree_flatten(summed)
    keys = random.split(key, len(leaves))
    noisy = [(g + args.noise * args.clip * random.normal(k, g.shape)) / x.shape[0]
             for g, k in zip(leaves, keys)]
    updates, opt_state = tx.update(tree_util.tree_unflatten(treedef, noisy), opt_state,
                                   params)
    return optim.apply_updates(params, updates), opt_state, norms


@lamina.jit
def accuracy(params, x, y):
    return (lnp.argmax(model.apply({"params": params}, x), axis=-1) == y).mean()


key = random.PRNGKey(1)
rng = np.random.default_rng(0)
for step in range(1, args.steps + 1):
    idx = rng.choice(len(x_train), args.batch_size, replace=False)
    key, noise_key = random.split(key)
    params, opt_state, norms = dp_step(params, opt_state, x_train[idx], y_train[idx],
                                       noise_key)
    if step % args.log_every == 0 or step == args.steps:
        norms = np.asarray(norms)
        print(f"step {step:4d}  per-example grad norm median {np.median(norms):.3f} "
              f"max {norms.max():.3f}  clipped {np.mean(norms > args.clip):.0%}")
print(f"test accuracy {float(accuracy(params, x_test, y_test)):.4f} "
      f"(DP-SGD, clip {args.clip}, noise multiplier {args.noise})")
