"""The train loop through the Python API: learning, metrics, EMA, accumulation, NaNs."""
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


def test_nn_module_models(ds):
    r = fit(get_model("nn_mlp", num_outputs=3, hidden=(16,)), optim.adam(1e-2), ds,
            steps=20, batch_size=32, progress="none")
    assert r.eval_metrics["accuracy"] > 0.8
    img = load_dataset("digits", image=True)
    r = fit(get_model("nn_cnn", num_outputs=10, channels=(4,), hidden=16),
            optim.adam(1e-2), img, steps=3, batch_size=32, progress="none")
    assert r.step == 3 and np.isfinite(r.eval_metrics["loss"])
