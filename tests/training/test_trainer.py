"""The train loop through the Python API: learning, metrics, EMA, accumulation, NaNs."""
import textwrap

import numpy as np
import pytest

from lamina import optim
from lamina.training import (FunctionModel, TrainingError, build_optimizer, fit, get_model,
                             load_dataset)
from lamina.training.logging import read_events, read_jsonl


@pytest.fixture(scope="module")
def ds():
    return load_dataset("synthetic", n=256, dim=8, classes=3, seed=1)


def test_fit_learns_and_logs(ds, tmp_path):
    tx = build_optimizer("adamw", 1e-2, {"weight_decay": 1e-4}, clip_norm=1.0,
                         weight_decay_mask=["**/kernel"])
    r = fit(get_model("mlp", num_outputs=3, hidden=(16,)), tx, ds, steps=40, batch_size=32,
            log_every=10, eval_every=20, ema_decay=0.9, progress="none",
            output_dir=str(tmp_path), accumulation_steps=2)
    assert r.step == 40 and r.eval_metrics["accuracy"] > 0.8
    assert "ema_accuracy" in r.eval_metrics
    events = read_events(str(tmp_path))
    assert [s for s, _ in events["train/loss"]] == [10, 20, 30, 40]
    assert events["train/learning_rate"][0][1] == pytest.approx(1e-2)
    for tag in ("train/grad_norm", "train/steps_per_sec", "eval/accuracy"):
        assert tag in events
    assert read_jsonl(str(tmp_path))[0]["step"] == 10
    assert (tmp_path / "checkpoints" / "40").is_dir()


def test_pure_function_model_and_nan_policies(ds):
    def fn(params, x):
        return x @ params["w"] * params["s"]

    def init(key, x):
        return {"w": np.zeros((x.shape[-1], 3), np.float32), "s": np.float32(1.0)}

    model = FunctionModel(fn, init)
    r = fit(model, optim.sgd(0.5), ds, steps=10, batch_size=32, progress="none")
    assert r.eval_metrics["accuracy"] > 0.5

    def nan_loss(out, y):
        losses = (out.sum(axis=-1) * np.nan).astype("float32")
        return losses, {}

    with pytest.raises(TrainingError, match=r"step 1 .*params\['s'\]|step 1 .*params"):
        fit(model, optim.sgd(0.1), ds, steps=5, batch_size=32, loss=nan_loss,
            progress="none", log_every=5)
    r = fit(model, optim.sgd(0.1), ds, steps=5, batch_size=32, loss=nan_loss,
            progress="none", on_nan="skip", log_every=5)
    assert r.nan_skips == 5
    np.testing.assert_array_equal(r.params["w"], 0.0)


def test_builtin_models_are_nn_modules(ds):
    from lamina import nn
    m = get_model("mlp", num_outputs=3, hidden=(16,))
    assert isinstance(m, nn.Module)
    r = fit(m, optim.adam(1e-2), ds, steps=20, batch_size=32, progress="none")
    assert r.eval_metrics["accuracy"] > 0.8 and sorted(r.params) == ["Dense_0", "head"]
    img = load_dataset("digits", image=True)
    r = fit(get_model("cnn", num_outputs=10, channels=(4,), hidden=16),
            optim.adam(1e-2), img, steps=3, batch_size=32, progress="none")
    assert r.step == 3 and np.isfinite(r.eval_metrics["loss"])
    assert r.params["Conv_0"]["kernel"].shape == (3, 3, 1, 4)
    chars = load_dataset("chars", seq_len=8, max_chars=4000)
    lm = get_model("transformer_lm", num_outputs=128, d_model=16, num_heads=2,
                   num_layers=1, max_len=8)
    r = fit(lm, optim.adam(3e-3), chars, steps=3, batch_size=8, eval_batch_size=64,
            progress="none")
    assert r.step == 3 and np.isfinite(r.eval_metrics["loss"])
    assert set(r.params) == {"embed", "pos_embed", "Block_0", "final_norm"}


def test_float16_dynamic_loss_scaling(ds):
    import lamina.numpy as lnp
    from lamina.training import Trainer
    m = get_model("mlp", num_outputs=3, hidden=(16,))
    r = fit(m, optim.adam(1e-2), ds, steps=20, batch_size=32, progress="none",
            precision="float16", loss_scale_period=5)
    assert r.eval_metrics["accuracy"] > 0.8
    assert r.params["head"]["kernel"].dtype == np.float32       # params stay f32
    # the scale's dynamics, one step at a time
    t = Trainer(m, optim.sgd(0.1), ds, steps=10, batch_size=32, progress="none",
                precision="float16", loss_scale=2.0 ** 40, loss_scale_period=2)
    x, y = ds.x_train[:32], ds.y_train[:32]
    s0 = t.init_state()
    s1, out = t._train_step(s0, x, y)        # 2**40 overflows f16: skipped, halved
    assert float(s1["loss_scale"]) == 2.0 ** 39 and int(s1["nan_skips"]) == 0
    assert int(s1["first_bad_step"]) == -1 and int(s1["step"]) == 1
    np.testing.assert_array_equal(s1["params"]["head"]["kernel"],
                                  s0["params"]["head"]["kernel"])
    s = dict(s1, loss_scale=lnp.asarray(256.0, lnp.float32))
    s2, _ = t._train_step(s, x, y)           # finite: applied, 1 good step
    assert float(s2["loss_scale"]) == 256.0 and int(s2["good_steps"]) == 1
    assert not np.array_equal(s2["params"]["head"]["kernel"], s1["params"]["head"]["kernel"])
    s3, out = t._train_step(s2, x, y)        # 2 good steps: the scale doubles
    assert float(s3["loss_scale"]) == 512.0 and int(s3["good_steps"]) == 0
    assert float(out["loss_scale"]) == 512.0
    # the same update as f32 up to f16 rounding
    f32 = Trainer(m, optim.sgd(0.1), ds, steps=10, batch_size=32, progress="none")
    ref, _ = f32._train_step(dict(f32.init_state(), params=s1["params"]), x, y)
    np.testing.assert_allclose(s2["params"]["head"]["kernel"], ref["params"]["head"]["kernel"],
                               atol=2e-3)


def test_keep_best_and_strategy_checked_before_training(ds, tmp_path):
    from lamina.training import ConfigError, Trainer

    def fn(params, x):
        return x @ params["w"]

    def init(key, x):
        return {"w": np.zeros((x.shape[-1], 3), np.float32)}

    def loss(out, y):    # a custom loss with its own metric
        losses, metrics = optim.softmax_cross_entropy_with_integer_labels(out, y), {}
        metrics["margin"] = out.max(axis=-1) - out.min(axis=-1)
        return losses, metrics

    kw = dict(steps=2, batch_size=32, progress="none", output_dir=str(tmp_path / "run"))
    t = Trainer(FunctionModel(fn, init), optim.sgd(0.1), ds, loss=loss, ema_decay=0.5, **kw)
    assert t.eval_metric_names() == ["loss", "margin", "ema_loss", "ema_margin"]
    Trainer(FunctionModel(fn, init), optim.sgd(0.1), ds, loss=loss, ema_decay=0.5,
            keep_best="eval/ema_margin", **kw)
    with pytest.raises(ConfigError, match=r"keep_best='eval/accuracy' is not a metric the "
                                          r"evaluation produces; it produces: eval/loss, "
                                          r"eval/margin$"):
        Trainer(FunctionModel(fn, init), optim.sgd(0.1), ds, loss=loss,
                keep_best="eval/accuracy", **kw)
    with pytest.raises(ValueError, match="strategy must be 'pmap' or 'mesh'; got 'dp'"):
        Trainer(FunctionModel(fn, init), optim.sgd(0.1), ds, strategy="dp", **kw)
    with pytest.raises(ConfigError, match=r"batch_size=30 must be divisible by .* x "
                                          r"accumulation_steps \(4\) = 4"):
        Trainer(FunctionModel(fn, init), optim.sgd(0.1), ds, accumulation_steps=4,
                **dict(kw, batch_size=30))
    assert not (tmp_path / "run").exists()     # nothing ran, nothing was written


def _same(a, b):
    from lamina import tree_util
    la, lb = tree_util.tree_leaves(a), tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for u, v in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_batches_are_prefetched_to_the_device(ds):
    import lamina
    from lamina.training import Trainer

    def trainer():
        return Trainer(get_model("mlp", num_outputs=3, hidden=(8,)), optim.adam(1e-2), ds,
                       steps=6, batch_size=32, progress="none", ema_decay=0.5)

    t = trainer()
    batches = t._batches()
    x, y, pos = next(batches)
    assert isinstance(x, lamina.Array) and isinstance(y, lamina.Array)
    assert x.devices() == y.devices() == {lamina.local_devices()[0]}
    assert x.shape == (32, 8) and pos == {"epoch": 0, "position": 1}
    idx = np.random.default_rng([0, 0]).permutation(len(ds.x_train))[:32]
    np.testing.assert_array_equal(np.asarray(x), ds.x_train[idx])
    next(batches)
    batches.close()                     # the producer had run ahead; it is joined and
    assert t.iterator.state() == {"epoch": 0, "position": 2}   # the iterator rewound
    on = trainer().fit()
    host = trainer()
    host._prefetch_to_device = False    # host batches, copied by the step (as before)
    off = host.fit()
    _same((on.params, on.ema_params), (off.params, off.ema_params))


def test_prefetch_errors_reach_the_training_thread(ds):
    from lamina.training import Dataset, Trainer

    class Failing:
        shape, dtype = ds.x_train.shape, ds.x_train.dtype

        def __len__(self):
            return len(ds.x_train)

        def __getitem__(self, idx):
            raise OSError("read error (injected)")

    data = Dataset(Failing(), ds.y_train, ds.x_eval, ds.y_eval, num_classes=3)
    with pytest.raises(OSError, match="injected"):
        Trainer(get_model("mlp", num_outputs=3, hidden=(8,)), optim.sgd(0.1), data,
                steps=3, batch_size=32, progress="none").fit()


# 4 CPU devices in a child process: pmap and mesh take the prefetched batches as placed
# (no host round trip: lamina's host-value paths never see a batch-shaped lamina Array),
# and the result is bit-identical to feeding host batches.
FOUR_DEVICES = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None
    import numpy as np
    import lamina
    from lamina import _api_pmap, _spmd, optim, tree_util
    from lamina.sharding import PmapSharding
    from lamina.training import Trainer, get_model, load_dataset
    assert lamina.local_device_count() == 4
    ds = load_dataset("synthetic", n=128, dim=6, classes=3, seed=0)
    seen = []
    for mod, name in ((_api_pmap, "_host_value"), (_spmd, "_host")):
        def spy(x, *a, _orig=getattr(mod, name)):
            if isinstance(x, lamina.Array):
                seen.append(tuple(x.shape))
            return _orig(x, *a)
        setattr(mod, name, spy)
    for strategy in ("pmap", "mesh"):
        def trainer():
            return Trainer(get_model("mlp", num_outputs=3, hidden=(8,)),
                           optim.adam(1e-2), ds, steps=4, batch_size=24,
                           progress="none", devices=4, strategy=strategy)
        t = trainer()
        batches = t._batches()
        x, y, _ = next(batches)
        batches.close()
        if strategy == "pmap":
            assert x.shape == (4, 6, 6) and y.shape == (4, 6), (x.shape, y.shape)
            assert x.sharding == PmapSharding(lamina.local_devices()[:4]), x.sharding
        else:
            assert x.shape == (24, 6) and x.sharding == t._batch_sharding, x.sharding
        del seen[:]
        on = trainer().fit()
        batch_shapes = {tuple(x.shape), tuple(y.shape)}
        assert not batch_shapes & set(seen), (strategy, seen)
        off = trainer()
        off._prefetch_to_device = False
        off = off.fit()
        for a, b in zip(tree_util.tree_leaves(on.params), tree_util.tree_leaves(off.params)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    print("PREFETCH OK", flush=True)
""")


def test_prefetch_places_batches_for_pmap_and_mesh(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, LAMINA_NUM_CPU_DEVICES="4", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", FOUR_DEVICES], env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0 and "PREFETCH OK" in r.stdout, r.stderr[-4000:]
