"""Issue 8 audit, checkpoints and `imports`: a user model registered through the config's
`imports` (the only way a config runs user code), with BatchNorm state and dropout, is
interrupted and resumed: the result is bit-identical to an uninterrupted run, so the
model state and the RNG key are in the checkpoint along with params, optimizer state,
EMA, step and data position. And resume=never must not mix into an existing run."""
import textwrap

import numpy as np
import pytest

from lamina import tree_util
from lamina.training import ConfigError, trainer_from_config
from lamina.training import config as C
from lamina.training.checkpoint import Checkpointer

USER_MODULE = textwrap.dedent('''
    from lamina import nn
    from lamina.training import register_model


    class BNNet(nn.Module):
        num_outputs: int

        def __call__(self, x):
            x = nn.relu(nn.BatchNorm()(nn.Dense(16)(x)))
            x = nn.Dropout(0.3)(x)
            return nn.Dense(self.num_outputs)(x)


    @register_model("audit_bn_net")
    def bn_net(num_outputs):
        return BNNet(num_outputs)
''')

RAW = {"imports": ["audit_user_models"],
       "model": {"name": "audit_bn_net"},
       "data": {"name": "synthetic", "args": {"n": 96, "dim": 5, "classes": 3}},
       "optim": {"name": "adam", "learning_rate": 0.01, "ema_decay": 0.8},
       "train": {"steps": 12, "batch_size": 16, "log_every": 4, "progress": "none"}}


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "audit_user_models.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)             # a config's imports are found from the cwd
    return tmp_path


def test_unknown_model_without_its_import(user_dir):
    raw = {k: v for k, v in RAW.items() if k != "imports"}
    import sys
    if "audit_user_models" in sys.modules:
        pytest.skip("the user module was imported by an earlier test in this process")
    with pytest.raises(ConfigError, match="unknown model 'model.name=audit_bn_net'"):
        trainer_from_config(C.from_dict(raw))


def test_user_model_with_state_and_dropout_resumes_bit_identically(user_dir):
    full = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={user_dir / 'full'}"]))
    assert full.init_state()["model_state"]          # BatchNorm statistics
    r_full = full.fit()
    cut = str(user_dir / "cut")
    first = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={cut}",
                                                  "train.steps=7"])).fit()
    assert first.step == 7
    resumed = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={cut}"]))
    r_cut = resumed.fit()
    assert r_cut.step == 12
    for a, b in zip(tree_util.tree_leaves((r_full.params, r_full.ema_params,
                                           r_full.model_state)),
                    tree_util.tree_leaves((r_cut.params, r_cut.ema_params,
                                           r_cut.model_state))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    ck = Checkpointer(str(user_dir / "cut" / "checkpoints"))
    state, meta = ck.restore(12, resumed.init_state())
    ck.close()
    assert sorted(state) == sorted(resumed.init_state())
    for key in ("params", "opt_state", "model_state", "ema", "rng", "step"):
        assert key in state
    per_epoch = len(resumed.data.x_train) // 16
    assert int(state["step"]) == 12
    assert meta["data"]["epoch"] * per_epoch + meta["data"]["position"] == 12
    assert meta["config"] == C.to_dict(C.from_dict(RAW, [f"run.output_dir={cut}"]))


def test_resume_never_refuses_an_existing_run(user_dir):
    out = user_dir / "run"
    trainer_from_config(C.from_dict(RAW, [f"run.output_dir={out}", "train.steps=4"])).fit()
    before = sorted(p.name for p in (out / "checkpoints").iterdir())
    with pytest.raises(ConfigError, match="run.resume"):
        trainer_from_config(C.from_dict(RAW, [f"run.output_dir={out}", "train.steps=4",
                                              "run.resume=never"])).fit()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before


def test_resume_from_a_path_continues_another_run(user_dir):
    """run.resume=PATH (a run directory or one of its step directories) starts a new run
    directory from that checkpoint; the source run is left as it was."""
    src = user_dir / "src"
    trainer_from_config(C.from_dict(RAW, [f"run.output_dir={src}", "train.steps=6",
                                          "train.checkpoint_every=3"])).fit()
    full = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={user_dir / 'full'}"]))
    r_full = full.fit()
    for resume, dst in ((src, "from_run"), (src / "checkpoints" / "6", "from_step")):
        r = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={user_dir / dst}",
                                                  f"run.resume={resume}"])).fit()
        assert r.step == 12
        for a, b in zip(tree_util.tree_leaves((r.params, r.model_state)),
                        tree_util.tree_leaves((r_full.params, r_full.model_state))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # from step 3 of the source: same end point again
    r = trainer_from_config(C.from_dict(RAW, [f"run.output_dir={user_dir / 'from3'}",
                                              f"run.resume={src / 'checkpoints' / '3'}"]))
    r = r.fit()
    for a, b in zip(tree_util.tree_leaves(r.params), tree_util.tree_leaves(r_full.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for directory, steps in ((src, [3, 6]), (user_dir / "from3", [12])):
        ck = Checkpointer(str(directory / "checkpoints"))
        assert ck.all_steps() == steps          # the source run is untouched
        ck.close()
