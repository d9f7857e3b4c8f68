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


def torch_mlp_train_setup(torch, lr: float = 1e-3, device=None):
    """(model, step, x, y) on `device` (default: the CPU)."""
    device = device or torch.device("cpu")
    model = torch_mlp(torch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = (torch.from_numpy(a).to(device) for a in mlp_data())
    y = y.long()
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step, x, y


def _train_step(fw, loss_fn, opt):
    """`step(params, opt_state, x, y) -> (params, opt_state, loss)`, un-jitted."""
    def step(params, opt_state, x, y):
        loss, g = fw.value_and_grad(lambda p: loss_fn(p, x, y))(params)
        updates, opt_state = opt.update(g, opt_state, params)
        params = fw.optim.apply_updates(params, updates)
        return params, opt_state, loss
    return step


def _numpy_tree(spec: dict, seed: int) -> dict:
    """Seeded numpy parameters for a nested dict of shapes, Flax's leaf names: `kernel`
    ~ N(0, 1/fan_in) (fan_in: all but the output axes), `embedding`/`pos` ~ N(0, 0.02²),
    `scale` ones, `bias` zeros. Leaves are drawn in sorted-path order."""
    rng = onp.random.default_rng(seed)

    def make(path: tuple, shape):
        name = path[-1]
        if name == "bias":
            return onp.zeros(shape, onp.float32)
        if name == "scale":
            return onp.ones(shape, onp.float32)
        if name in ("embedding", "pos"):
            return (0.02 * rng.standard_normal(shape)).astype(onp.float32)
        # NOTE: attention q/k/v kernels are (in, heads, head_dim): fan_in is axis 0.
        fan_in = shape[0] if path[-2] in ("query", "key", "value") else int(
            onp.prod(shape[:-1]))
        return (rng.standard_normal(shape) / onp.sqrt(fan_in)).astype(onp.float32)

    def walk(d: dict, path: tuple) -> dict:
        return {k: walk(v, path + (k,)) if isinstance(v, dict) else make(path + (k,), v)
                for k, v in sorted(d.items())}
    return walk(spec, ())


def check_param_tree(fw, model, example, params) -> None:
    """Raise unless `model.init` (abstractly evaluated, no FLOPs) builds exactly the tree
    of shapes of `params`: lamina.nn and flax must see the same parameters."""
    key = fw.random.PRNGKey(0)
    want = fw.tree_map(lambda a: tuple(a.shape), fw.eval_shape(model.init, key, example))
    got = {"params": fw.tree_map(lambda a: tuple(a.shape), params)}
    if want != got:
        raise AssertionError(f"{fw.name}: model.init builds {want}, the benchmark's numpy "
                             f"parameters are {got}")


# ---- (d) CNN on 28x28x1 NHWC, batch 64 (the Flax MNIST example's network) -----------

CNN_BATCH, CNN_HW, CNN_CLASSES = 64, 28, 10
CNN_SPEC = {"Conv_0": {"kernel": (3, 3, 1, 32), "bias": (32,)},
            "Conv_1": {"kernel": (3, 3, 32, 64), "bias": (64,)},
            "Dense_0": {"kernel": (7 * 7 * 64, 256), "bias": (256,)},
            "Dense_1": {"kernel": (256, CNN_CLASSES), "bias": (CNN_CLASSES,)}}


def cnn_data(seed: int = 0) -> tuple[onp.ndarray, onp.ndarray]:
    rng = onp.random.default_rng(seed)
    x = rng.random((CNN_BATCH, CNN_HW, CNN_HW, 1), dtype=onp.float32)
    y = rng.integers(0, CNN_CLASSES, CNN_BATCH).astype(onp.int32)
    return x, y


def cnn_module(nn):
    """conv3x3(32) relu avgpool2 conv3x3(64) relu avgpool2 dense(256) relu dense(10), NHWC,
    written once against `nn` = lamina.nn or flax.linen (identical parameter trees)."""
    compact = getattr(nn, "compact", lambda f: f)  # NOTE: flax needs it, lamina has none

    class CNN(nn.Module):
        @compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(32, (3, 3), padding="SAME", name="Conv_0")(x))
            x = nn.avg_pool(x, (2, 2), strides=(2, 2))
            x = nn.relu(nn.Conv(64, (3, 3), padding="SAME", name="Conv_1")(x))
            x = nn.avg_pool(x, (2, 2), strides=(2, 2))
            x = x.reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(256, name="Dense_0")(x))
            return nn.Dense(CNN_CLASSES, name="Dense_1")(x)
    return CNN()


def cnn_train_setup(fw, lr: float = 1e-3):
    """As `mlp_train_setup`, for the CNN (lamina.nn / flax.linen + lamina.optim / optax)."""
    from benchmarks.workloads._common import load_nn
    model = cnn_module(load_nn(fw))
    params = fw.tree_map(fw.asarray, _numpy_tree(CNN_SPEC, seed=1))
    x, y = (fw.asarray(a) for a in cnn_data())
    check_param_tree(fw, model, x, params)

    def loss_fn(p, x, y):
        logits = model.apply({"params": p}, x)
        return fw.optim.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    opt = fw.optim.adam(lr)
    return params, opt.init(params), _train_step(fw, loss_fn, opt), x, y


def torch_cnn_train_setup(torch, lr: float = 1e-3):
    """The same CNN as a torch user writes it: NCHW (torch's native layout; the NHWC
    data is transposed once, outside the step), Conv2d(padding=1), AvgPool2d(2)."""
    nn = torch.nn
    p = _numpy_tree(CNN_SPEC, seed=1)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(7 * 7 * 64, 256), nn.ReLU(),
                          nn.Linear(256, CNN_CLASSES))
    # NOTE: HWIO -> OIHW; the first dense's rows go from Flax's (h, w, c) flattening
    # order to torch's (c, h, w).
    dense0 = p["Dense_0"]["kernel"].reshape(7, 7, 64, 256).transpose(2, 0, 1, 3)
    weights = [(p["Conv_0"]["kernel"].transpose(3, 2, 0, 1), p["Conv_0"]["bias"]),
               (p["Conv_1"]["kernel"].transpose(3, 2, 0, 1), p["Conv_1"]["bias"]),
               (dense0.reshape(-1, 256).T, p["Dense_0"]["bias"]),
               (p["Dense_1"]["kernel"].T, p["Dense_1"]["bias"])]
    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for m, (w, b) in zip(layers, weights):
            m.weight.copy_(torch.from_numpy(onp.ascontiguousarray(w)))
            m.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xn, yn = cnn_data()
    x = torch.from_numpy(onp.ascontiguousarray(xn.transpose(0, 3, 1, 2)))
    y = torch.from_numpy(yn).long()
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step, x, y


# ---- (e) decoder-only transformer LM: pre-LN, 2 layers, d=128, 4 heads ---------------

LM_LAYERS, LM_D, LM_HEADS, LM_SEQ, LM_BATCH, LM_VOCAB, LM_MLP = 2, 128, 4, 64, 16, 256, 512


def lm_spec() -> dict:
    ln = {"scale": (LM_D,), "bias": (LM_D,)}
    qkv = {"kernel": (LM_D, LM_HEADS, LM_D // LM_HEADS), "bias": (LM_HEADS, LM_D // LM_HEADS)}
    block = {"ln_0": ln, "ln_1": ln,
             "attn": {"query": qkv, "key": qkv, "value": qkv,
                      "out": {"kernel": (LM_HEADS, LM_D // LM_HEADS, LM_D), "bias": (LM_D,)}},
             "mlp_in": {"kernel": (LM_D, LM_MLP), "bias": (LM_MLP,)},
             "mlp_out": {"kernel": (LM_MLP, LM_D), "bias": (LM_D,)}}
    spec = {f"Block_{i}": block for i in range(LM_LAYERS)}
    spec.update(embed={"embedding": (LM_VOCAB, LM_D)}, pos=(LM_SEQ, LM_D), ln_f=ln,
                head={"kernel": (LM_D, LM_VOCAB), "bias": (LM_VOCAB,)})
    return spec


def lm_data(seed: int = 0) -> tuple[onp.ndarray, onp.ndarray]:
    """Random tokens (batch, seq+1): inputs are [:, :-1], next-token targets [:, 1:]."""
    t = onp.random.default_rng(seed).integers(0, LM_VOCAB, (LM_BATCH, LM_SEQ + 1))
    return t[:, :-1].astype(onp.int32), t[:, 1:].astype(onp.int32)


def lm_module(nn):
    """GPT-style pre-LayerNorm decoder (learned positions, causal self-attention with
    biases, tanh-GELU MLP 4x, final LayerNorm, untied head), once for both `nn`s."""
    compact = getattr(nn, "compact", lambda f: f)

    class Block(nn.Module):
        @compact
        def __call__(self, x, mask):
            h = nn.LayerNorm(epsilon=1e-5, name="ln_0")(x)
            x = x + nn.MultiHeadDotProductAttention(num_heads=LM_HEADS, name="attn")(
                h, mask=mask)
            h = nn.LayerNorm(epsilon=1e-5, name="ln_1")(x)
            h = nn.gelu(nn.Dense(LM_MLP, name="mlp_in")(h), approximate=True)
            return x + nn.Dense(LM_D, name="mlp_out")(h)

    class LM(nn.Module):
        @compact
        def __call__(self, tokens):
            x = nn.Embed(LM_VOCAB, LM_D, name="embed")(tokens)
            pos = self.param("pos", nn.initializers.normal(0.02), (LM_SEQ, LM_D))
            x = x + pos[:tokens.shape[-1]]
            mask = nn.make_causal_mask(tokens)
            for i in range(LM_LAYERS):
                x = Block(name=f"Block_{i}")(x, mask)
            x = nn.LayerNorm(epsilon=1e-5, name="ln_f")(x)
            return nn.Dense(LM_VOCAB, name="head")(x)
    return LM()


def lm_train_setup(fw, lr: float = 1e-3):
    """As `mlp_train_setup`, for the transformer LM (mean next-token cross-entropy)."""
    from benchmarks.workloads._common import load_nn
    model = lm_module(load_nn(fw))
    params = fw.tree_map(fw.asarray, _numpy_tree(lm_spec(), seed=1))
    x, y = (fw.asarray(a) for a in lm_data())
    check_param_tree(fw, model, x, params)

    def loss_fn(p, x, y):
        logits = model.apply({"params": p}, x)
        return fw.optim.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    opt = fw.optim.adam(lr)
    return params, opt.init(params), _train_step(fw, loss_fn, opt), x, y


def torch_lm_train_setup(torch, lr: float = 1e-3):
    """The same LM hand-written in torch: nn.Linear q/k/v/out and
    `F.scaled_dot_product_attention(is_causal=True)` (what a torch user writes today)."""
    nn, F = torch.nn, torch.nn.functional
    hd = LM_D // LM_HEADS

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_0, self.ln_1 = nn.LayerNorm(LM_D, eps=1e-5), nn.LayerNorm(LM_D, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(LM_D, LM_D) for _ in range(4))
            self.mlp_in, self.mlp_out = nn.Linear(LM_D, LM_MLP), nn.Linear(LM_MLP, LM_D)

        def forward(self, x):
            b, t, _ = x.shape
            h = self.ln_0(x)
            q, k, v = (f(h).view(b, t, LM_HEADS, hd).transpose(1, 2)
                       for f in (self.q, self.k, self.v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(a.transpose(1, 2).reshape(b, t, LM_D))
            return x + self.mlp_out(F.gelu(self.mlp_in(self.ln_1(x)), approximate="tanh"))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(LM_VOCAB, LM_D)
            self.pos = nn.Parameter(torch.zeros(LM_SEQ, LM_D))
            self.blocks = nn.ModuleList(Block() for _ in range(LM_LAYERS))
            self.ln_f, self.head = nn.LayerNorm(LM_D, eps=1e-5), nn.Linear(LM_D, LM_VOCAB)

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos[:tokens.shape[-1]]
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln_f(x))

    model = LM()
    p = _numpy_tree(lm_spec(), seed=1)
    t = lambda a: torch.from_numpy(onp.ascontiguousarray(a))  # noqa: E731

    def lin(m, d):  # NOTE: Flax kernels are (in..., out...); torch weights are (out, in)
        m.weight.copy_(t(d["kernel"].reshape(m.in_features, m.out_features).T))
        m.bias.copy_(t(d["bias"].reshape(-1)))

    def ln(m, d):
        m.weight.copy_(t(d["scale"]))
        m.bias.copy_(t(d["bias"]))

    with torch.no_grad():
        model.embed.weight.copy_(t(p["embed"]["embedding"]))
        model.pos.copy_(t(p["pos"]))
        for blk, d in zip(model.blocks, (p[f"Block_{i}"] for i in range(LM_LAYERS))):
            ln(blk.ln_0, d["ln_0"])
            ln(blk.ln_1, d["ln_1"])
            for m, name in ((blk.q, "query"), (blk.k, "key"), (blk.v, "value"),
                            (blk.o, "out")):
                lin(m, d["attn"][name])
            lin(blk.mlp_in, d["mlp_in"])
            lin(blk.mlp_out, d["mlp_out"])
        ln(model.ln_f, p["ln_f"])
        lin(model.head, p["head"])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xn, yn = lm_data()
    x, y = torch.from_numpy(xn).long(), torch.from_numpy(yn).long()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, LM_VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return model, step, x, y
