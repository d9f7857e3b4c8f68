"""lamina.optim: Optax-compatible gradient transformations, optimizers, schedules and
losses, written on lamina (it never imports jax or optax).

Names, signatures, defaults, state NamedTuples and numerics follow optax 0.2.8, so
`import lamina.optim as optax` runs most optax code:

>>> import lamina, lamina.numpy as lnp, lamina.optim as optim
>>> params = {"w": lnp.array([1., -2.]), "b": None}
>>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(1e-1))
>>> state = opt.init(params)
>>> grads = lamina.grad(lambda p: lnp.sum(p["w"] ** 2))(params)
>>> updates, state = lamina.jit(opt.update)(grads, state, params)
>>> optim.apply_updates(params, updates)
{'b': None, 'w': Array([ 0.8999907, -1.8999807], dtype=float32)}

Modules: `_base` (the protocol, `chain`, `apply_updates`), `transform` (the `scale_by_*`
building blocks), `scaling`, `accumulation`, `adding` and `clipping` (the other
building blocks: trust ratio, sm3, factored rms...; trace, ema; weight decay, noise;
clipping), `alias` (sgd, adam, ...), `combine` (masked, partition, MultiSteps,
inject_hyperparams, ...), `schedules`, `losses`, `groups` (parameter groups from path
patterns) and the `lamina.optim.tree` submodule (optax.tree's utilities).
"""
# NOTE: each module's __all__ is its public API; re-exporting through it keeps this file
# in step with the modules (the lists are pinned by tests/optim).
from lamina.optim import _base, alias, combine, groups, losses, schedules, transform
from lamina.optim import accumulation, adding, clipping, scaling
from lamina.optim import tree as tree
from lamina.optim._base import *  # noqa: F401,F403
from lamina.optim.transform import *  # noqa: F401,F403
from lamina.optim.scaling import *  # noqa: F401,F403
from lamina.optim.accumulation import *  # noqa: F401,F403
from lamina.optim.adding import *  # noqa: F401,F403
from lamina.optim.clipping import *  # noqa: F401,F403
from lamina.optim.alias import *  # noqa: F401,F403
from lamina.optim.combine import *  # noqa: F401,F403
from lamina.optim.schedules import *  # noqa: F401,F403
from lamina.optim.losses import *  # noqa: F401,F403
from lamina.optim.groups import *  # noqa: F401,F403

__all__ = sorted({*_base.__all__, *transform.__all__, *scaling.__all__,
                  *accumulation.__all__, *adding.__all__, *clipping.__all__,
                  *alias.__all__, *combine.__all__,
                  *schedules.__all__, *losses.__all__, *groups.__all__,
                  "tree", "losses", "schedules"})
