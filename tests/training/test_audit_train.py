"""Issue 8 audit, the loop: each behaviour checked against an independent computation
(gradient accumulation vs the full batch, EMA vs a numpy recurrence, the optimizer from
config values vs optax, bf16 compute with f32 state, the first non-finite leaf and step,
NaN skips counted vs a replay of the batch order, background batch gathering)."""
import threading

import numpy as np
import pytest

import lamina.numpy as lnp
from lamina import optim, tree_util
from lamina.training import (BatchIterator, FunctionModel, Trainer, TrainingError,
                             build_optimizer, get_model, load_dataset, trainer_from_config)
from lamina.training import config as C
from lamina.training.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def ds():
    return load_dataset("synthetic", n=96, dim=4, classes=3, seed=2)


def _leaves(tree):
    return [np.asarray(x) for x in tree_util.tree_leaves(tree)]


def test_gradient_accumulation_equals_the_full_batch(ds):
    model = get_model("mlp", num_outputs=3, hidden=(8,))
    runs = {k: Trainer(model, optim.sgd(0.1), ds, steps=5, batch_size=32, progress="none",
                       accumulation_steps=k).fit() for k in (1, 4)}
    for a, b in zip(_leaves(runs[1].params), _leaves(runs[4].params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert runs[4].train_metrics["loss"] == pytest.approx(runs[1].train_metrics["loss"],
                                                          rel=1e-5)
    init = _leaves(Trainer(model, optim.sgd(0.1), ds, steps=5, batch_size=32,
                           progress="none").init_state()["params"])
    assert not np.allclose(_leaves(runs[1].params)[-1], init[-1])    # it did train


def test_ema_follows_the_recurrence_and_is_checkpointed(ds, tmp_path):
    decay = 0.75
    model = get_model("mlp", num_outputs=3, hidden=(8,))
    t = Trainer(model, optim.adam(0.05), ds, steps=4, batch_size=16, progress="none",
                ema_decay=decay)
    state = t.init_state()
    ema = _leaves(state["params"])
    it = BatchIterator(len(ds.x_train), 16, seed=0)
    for _ in range(4):
        idx = it.next()
        state, _ = t._train_step(state, ds.x_train[idx], ds.y_train[idx])
        ema = [decay * e + (1 - decay) * p for e, p in zip(ema, _leaves(state["params"]))]
    for a, b in zip(_leaves(state["ema"]), ema):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # fit() with the same settings saves that EMA in its checkpoint
    r = Trainer(model, optim.adam(0.05), ds, steps=4, batch_size=16, progress="none",
                ema_decay=decay, output_dir=str(tmp_path)).fit()
    for a, b in zip(_leaves(r.ema_params), ema):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    ck = Checkpointer(str(tmp_path / "checkpoints"))
    restored, _ = ck.restore(4, t.init_state())
    ck.close()
    for a, b in zip(_leaves(restored["ema"]), _leaves(r.ema_params)):
        np.testing.assert_array_equal(a, b)
    assert r.eval_metrics["ema_loss"] != r.eval_metrics["loss"]


def test_optimizer_from_config_values_matches_optax():
    import optax
    params = {"Dense_0": {"bias": np.zeros(2, np.float32),
                          "kernel": np.ones((3, 2), np.float32)}}
    sched = {"name": "warmup_cosine_decay_schedule", "init_value": 0.0,
             "peak_value": 0.01, "warmup_steps": 2, "decay_steps": 10}
    tx = build_optimizer("adamw", 1e-3, {"weight_decay": 0.1}, sched, clip_norm=0.5,
                         weight_decay_mask=["**/kernel"])
    ref = optax.chain(optax.clip_by_global_norm(0.5), optax.adamw(
        optax.warmup_cosine_decay_schedule(0.0, 0.01, 2, 10), weight_decay=0.1,
        mask={"Dense_0": {"bias": False, "kernel": True}}))
    rng = np.random.default_rng(0)
    state, ref_state = tx.init(params), ref.init(params)
    p, rp = params, params
    for _ in range(6):
        g = tree_util.tree_map(lambda x: rng.normal(size=x.shape).astype(np.float32), params)
        u, state = tx.update(g, state, p)
        ru, ref_state = ref.update(g, ref_state, rp)
        p, rp = optim.apply_updates(p, u), optax.apply_updates(rp, ru)
        for a, b in zip(_leaves(p), [np.asarray(x) for x in tree_util.tree_leaves(rp)]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_bf16_policy_computes_in_bf16_and_keeps_f32_state(ds):
    model = get_model("mlp", num_outputs=3, hidden=(16,))
    x, y = ds.x_train[:32], ds.y_train[:32]
    t16 = Trainer(model, optim.adam(1e-2), ds, steps=2, batch_size=32, progress="none",
                  precision="bf16")
    t32 = Trainer(model, optim.adam(1e-2), ds, steps=2, batch_size=32, progress="none")
    s0 = t16.init_state()
    text = t16._train_step.lower(s0, x, y).as_text()
    assert "bf16" in text and "bf16" not in t32._train_step.lower(s0, x, y).as_text()
    s1, out16 = t16._train_step(s0, x, y)
    _, out32 = t32._train_step(t32.init_state(), x, y)
    for leaf in tree_util.tree_leaves((s1["params"], s1["opt_state"])):
        if lnp.issubdtype(leaf.dtype, lnp.floating):
            assert leaf.dtype == np.float32
    loss16, loss32 = float(out16["loss"]), float(out32["loss"])
    assert loss16 != loss32 and abs(loss16 - loss32) < 0.02 * abs(loss32)


def _sqrt_model():
    """Logits from `a`, plus a column `z + 0*sqrt(z)`: with SGD(1) and the loss below, z
    goes 2 -> 1 -> 0, and at z = 0 (step 3) d/dz of 0*sqrt(z) is 0*inf = NaN while the
    loss stays finite. Only the leaf params['z'] goes non-finite."""
    def fn(params, x):
        z = params["z"]
        extra = (z + 0.0 * lnp.sqrt(z)) * lnp.ones((x.shape[0], 1), lnp.float32)
        return lnp.concatenate([x @ params["a"], extra], axis=1)

    def init(key, x):
        return {"a": np.zeros((x.shape[-1], 3), np.float32), "z": np.float32(2.0)}

    def loss(out, y):
        ce = optim.softmax_cross_entropy_with_integer_labels(out[:, :3], y)
        return ce + out[:, 3], {}

    return FunctionModel(fn, init), loss


def test_on_nan_stop_names_the_first_bad_step_and_leaf(ds, tmp_path):
    model, loss = _sqrt_model()
    t = Trainer(model, optim.sgd(1.0), ds, steps=10, batch_size=16, loss=loss,
                progress="none", log_every=5, checkpoint_every=2, output_dir=str(tmp_path))
    with pytest.raises(TrainingError, match=r"at step 3 \(first non-finite gradient leaf: "
                                            r"params\['z'\]\)"):
        t.fit()
    ck = Checkpointer(str(tmp_path / "checkpoints"))
    assert ck.all_steps() == [2]                     # the last good checkpoint is kept
    state, _ = ck.restore(2, t.init_state())
    ck.close()
    assert float(state["params"]["z"]) == 0.0
    assert all(np.isfinite(leaf).all() for leaf in _leaves(state))


def test_on_nan_skip_counts_exactly_the_poisoned_batches(ds, tmp_path):
    from lamina.training import Dataset
    from lamina.training.logging import read_jsonl
    x = ds.x_train.copy()
    x[5] = np.nan                                      # one bad training example
    bad = Dataset(x, ds.y_train, ds.x_eval, ds.y_eval, num_classes=3)
    steps, batch = 12, 16
    it = BatchIterator(len(x), batch, seed=0)
    expected = sum(5 in it.next() for _ in range(steps))
    assert 0 < expected < steps                        # some batches have it, some not
    r = Trainer(get_model("mlp", num_outputs=3, hidden=(8,)), optim.adam(0.01), bad,
                steps=steps, batch_size=batch, progress="none", on_nan="skip",
                log_every=4, output_dir=str(tmp_path)).fit()
    assert r.nan_skips == expected
    assert all(np.isfinite(leaf).all() for leaf in _leaves(r.params))
    logged = [row["train/nan_skips"] for row in read_jsonl(str(tmp_path))
              if "train/nan_skips" in row]
    assert logged[-1] == expected and logged == sorted(logged)


class _Recording:
    """An array-like that records which thread gathers each batch."""

    def __init__(self, base):
        self.base, self.threads = base, []
        self.shape, self.dtype = base.shape, base.dtype

    def __len__(self):
        return len(self.base)

    def __getitem__(self, idx):
        if isinstance(idx, np.ndarray):
            self.threads.append(threading.current_thread())
        return self.base[idx]


def test_batches_are_gathered_in_a_background_thread(ds):
    from lamina.training import Dataset
    xs = _Recording(ds.x_train)
    data = Dataset(xs, ds.y_train, ds.x_eval, ds.y_eval, num_classes=3)
    # NOTE: compared as sets: an earlier test's tensorboardX writer leaves a
    # multiprocessing QueueFeederThread that may exit while this one runs.
    before = set(threading.enumerate())
    r = Trainer(get_model("mlp", num_outputs=3, hidden=(8,)), optim.sgd(0.1), data,
                steps=6, batch_size=16, progress="none").fit()
    assert r.step == 6 and len(xs.threads) >= 6
    assert threading.main_thread() not in xs.threads
    assert set(threading.enumerate()) <= before       # the gatherer was joined


def test_epochs_and_steps_from_the_config():
    base = {"model": {"name": "mlp", "args": {"hidden": [4]}},
            "data": {"name": "synthetic", "args": {"n": 100, "dim": 4, "classes": 2}},
            "train": {"epochs": 3, "batch_size": 16}}
    t = trainer_from_config(C.from_dict(base))
    assert len(t.data.x_train) == 80 and t.steps == 3 * (80 // 16)
