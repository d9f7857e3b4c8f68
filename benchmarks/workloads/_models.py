"""Model sources shared by workloads: pure functions over `fw` (lamina or jax, by
module swap) and the equivalent torch modules. Data and initial parameters come from
seeded numpy, so every framework starts from the same numbers."""
from __future__ import annotations

import numpy as onp

MLP_SIZES = (64, 256, 256, 10)
BATCH = 128


def mlp_data(batch: int = BATCH, seed: int = 0) -> tuple[onp.ndarray, onp.ndarray]:
    rng = onp.random.default_rng(seed)
    x = rng.standard_normal((batch, MLP_SIZES[0])).astype(onp.float32)
    y = rng.integers(0, MLP_SIZES[-1], batch).astype(onp.int32)
    return x, y


def mlp_numpy_params(seed: int = 1) -> list[tuple[onp.ndarray, onp.ndarray]]:
    rng = onp.random.default_rng(seed)
    return [((rng.standard_normal((i, o)) / onp.sqrt(i)).astype(onp.float32),
             onp.zeros(o, onp.float32)) for i, o in zip(MLP_SIZES[:-1], MLP_SIZES[1:])]


# ---- lamina / jax: one source -------------------------------------------------------

def mlp_apply(fw, params, x):
    np = fw.np
    for w, b in params[:-1]:
        x = np.maximum(x @ w + b, 0.0)
    w, b = params[-1]
    return x @ w + b


def xent(fw, logits, y):
    np = fw.np
    z = logits - np.max(logits, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    onehot = (y[..., None] == np.arange(logits.shape[-1])).astype(logits.dtype)
    return -np.mean(np.sum(onehot * logp, axis=-1))


def mlp_loss(fw, params, x, y):
    return xent(fw, mlp_apply(fw, params, x), y)


def mlp_train_setup(fw, lr: float = 1e-3):
    """(params, opt_state, step, x, y) with `step(params, opt_state, x, y) ->
    (params, opt_state, loss)` un-jitted."""
    params = [(fw.asarray(w), fw.asarray(b)) for w, b in mlp_numpy_params()]
    x, y = (fw.asarray(a) for a in mlp_data())
    opt = fw.optim.adam(lr)
    opt_state = opt.init(params)

    def step(params, opt_state, x, y):
        loss, g = fw.value_and_grad(lambda p: mlp_loss(fw, p, x, y))(params)
        updates, opt_state = opt.update(g, opt_state, params)
        params = fw.optim.apply_updates(params, updates)
        return params, opt_state, loss

    return params, opt_state, step, x, y


# ---- torch ----------------------------------------------------------------------------

def torch_mlp(torch):
    layers = []
    for k, (w, b) in enumerate(mlp_numpy_params()):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(MLP_SIZES) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_mlp_train_setup(torch, lr: float = 1e-3):
    model = torch_mlp(torch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = (torch.from_numpy(a) for a in mlp_data())
    y = y.long()
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step, x, y
