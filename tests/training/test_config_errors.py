"""Table of bad configs: each gives one ConfigError naming the offending config path."""
import pytest

from lamina.training import ConfigError, trainer_from_config
from lamina.training import config as C

BASE = {"model": {"name": "mlp", "args": {"hidden": [4]}},
        "data": {"name": "synthetic", "args": {"n": 64, "dim": 4, "classes": 2}},
        "train": {"steps": 2, "batch_size": 8}}


def _drop(path):
    """A raw config: BASE without the key at ``path``."""
    raw = {k: dict(v) for k, v in BASE.items()}
    head, _, tail = path.partition(".")
    if tail:
        raw[head].pop(tail)
    else:
        raw.pop(head)
    return raw


# (raw config or None for BASE, overrides, regex the error must match: the path is in it)
CASES = [
    # unknown keys at every level, with the closest valid keys
    ({**BASE, "trian": {}}, [], r"unknown config key 'trian'.*did you mean 'train'"),
    (None, ["run.outptu_dir=x"], r"'run.outptu_dir'.*did you mean 'output_dir'"),
    (None, ["model.nmae=mlp"], r"'model.nmae'.*did you mean 'name'"),
    (None, ["data.featurs=x"], r"'data.featurs'.*did you mean 'features'"),
    (None, ["optim.learnig_rate=1"], r"'optim.learnig_rate'.*did you mean 'learning_rate'"),
    (None, ["train.stpes=3"], r"'train.stpes'.*did you mean 'steps'"),
    (None, ["devices.cuont=2"], r"'devices.cuont'.*did you mean 'count'"),
    (None, ["model.args.hiden=[3]"], r"'hiden' in model.args.*did you mean 'hidden'"),
    (None, ["data.args.dimm=3"], r"'dimm' in data.args.*did you mean 'dim'"),
    (None, ["optim.args.b11=0.9"], r"'b11' in optim.args.*did you mean 'b1'"),
    (None, ["optim.schedule={name: constant_schedule, valu: 0.1}"],
     r"'valu' in optim.schedule.*did you mean 'value'"),
    # wrong types: path, expected and given type
    (None, ["train.steps=abc"], r"'train.steps' expects int or null, got str"),
    (None, ["train.batch_size=1.5"], r"'train.batch_size' expects int, got float"),
    (None, ["optim.learning_rate=[1]"], r"'optim.learning_rate' expects float, got list"),
    (None, ["run.seed=x"], r"'run.seed' expects int, got str"),
    (None, ["imports=5"], r"'imports' expects list, got int"),
    (None, ["optim.weight_decay_mask={a: 1}"],
     r"'optim.weight_decay_mask' expects list or null, got mapping"),
    (None, ["model.args=[1]"], r"'model.args' expects dict, got list"),
    (None, ["train.batch_size_per_device=maybe"],
     r"'train.batch_size_per_device' expects bool, got str"),
    (None, ["train=5"], r"'train' expects mapping, got int"),
    (None, ["train.steps=true"], r"'train.steps' expects int or null, got bool"),
    # bad enum values
    (None, ["train.on_nan=ignore"], r"'train.on_nan' must be one of stop, skip"),
    (None, ["train.precision=f8"], r"'train.precision' must be one of f32, bf16, f16"),
    (None, ["train.loss=hinge"], r"'train.loss' must be one of auto"),
    (None, ["devices.strategy=tpu"], r"'devices.strategy' must be one of pmap"),
    (None, ["train.keep_best_mode=best"], r"'train.keep_best_mode' must be one of"),
    (None, ["train.progress=fancy"], r"'train.progress' must be one of"),
    (None, ["train.keep_best=accuracy"], r"'train.keep_best' must name an eval metric"),
    # negative / zero sizes and out-of-range values
    (None, ["train.steps=-3"], r"'train.steps' must be positive; got -3"),
    (None, ["train.batch_size=0"], r"'train.batch_size' must be positive"),
    (None, ["train.keep=-1"], r"'train.keep' must be positive"),
    (None, ["optim.accumulation_steps=0"], r"'optim.accumulation_steps' must be positive"),
    (None, ["train.eval_every=-1"], r"'train.eval_every' must be >= 0"),
    (None, ["devices.count=0"], r"'devices.count' must be positive"),
    (None, ["train.loss_scale_period=0"], r"'train.loss_scale_period' must be positive"),
    (None, ["data.eval_fraction=1.5"], r"'data.eval_fraction' must be in \[0, 1\)"),
    (None, ["optim.ema_decay=1.5"], r"'optim.ema_decay' must be in \[0, 1\)"),
    (None, ["devices.count=3"], r"'train.batch_size' \(8\) is not divisible by "
                                r"'devices.count' \(3\)"),
    (None, ["optim.accumulation_steps=3"], r"not divisible by 'optim.accumulation_steps'"),
    (None, ["train.batch_size=1024"], r"train.batch_size=1024 is larger than the training"),
    # missing / conflicting required fields
    (_drop("train.steps"), [], r"needs 'train.steps' or 'train.epochs'"),
    (_drop("model"), [], r"exactly one of 'model.name'"),
    (None, ["model.name=null", "model.fn=m:f"], r"'model.fn' needs 'model.init'"),
    (None, ["model.fn=m:f", "model.init=m:g"], r"exactly one of 'model.name'"),
    (None, ["train.epochs=1"], r"sets both 'train.steps' and 'train.epochs'"),
    (None, ["data.name=npz", "data.args={}"], r"needs 'data.path'"),
    (None, ["data.name=npz", "data.path=/nonexistent/d.npz", "data.args={}"],
     r"'data.path'.*does not exist"),
    # unknown registered names, with suggestions
    (None, ["model.name=mlpp"], r"'model.name=mlpp'.*did you mean 'mlp'"),
    (None, ["optim.name=adamm"], r"'optim.name=adamm'.*did you mean 'adam'"),
    (None, ["data.name=synthetc"], r"'data.name=synthetc'.*did you mean 'synthetic'"),
    (None, ["optim.schedule={name: cosine_foo}"], r"'optim.schedule.name=cosine_foo'"),
    (None, ["optim.weight_decay_mask=[kernel]"], r"optim.weight_decay_mask: optimizer "
                                                 r"'adam' has no weight decay mask"),
    (None, ["model.name=null", "model.fn=no_such_mod_xyz:f", "model.init=no_such_mod_xyz:g"],
     r"'model.fn=no_such_mod_xyz:f': cannot import 'no_such_mod_xyz'"),
    (None, ["model.name=null", "model.fn=json:nope", "model.init=json:loads"],
     r"'model.fn=json:nope': module 'json' has no 'nope'"),
    (None, ["model.name=null", "model.fn=json", "model.init=json:loads"],
     r"'model.fn=json' must look like 'package.module:function'"),
    (None, ["imports=[no_such_mod_xyz]"], r"'imports\[0\]': cannot import 'no_such_mod_xyz'"),
    (None, ["model.args.d_model=3"], r"'d_model' in model.args \(model 'mlp'\)"),
    # keep_best must be a metric the evaluation produces (checked before training)
    (None, ["train.keep_best=eval/accurcy"],
     r"train.keep_best='eval/accurcy' is not a metric the evaluation produces; it "
     r"produces: eval/accuracy, eval/loss$"),
    (None, ["train.keep_best=eval/f1", "optim.ema_decay=0.9"],
     r"it produces: eval/accuracy, eval/loss, eval/ema_accuracy, eval/ema_loss$"),
    (None, ["train.keep_best=eval/loss", "data.eval_fraction=0"],
     r"train.keep_best='eval/loss' is not .* produces: nothing \(no eval split\)"),
    # devices: strategy and multi-process keys
    (None, ["devices.strategy=shard_map"], r"'devices.strategy' must be one of pmap, mesh"),
    (None, ["devices.coordinator_address=localhost"],
     r"'devices.coordinator_address' must look like 'host:port'; got 'localhost'"),
    (None, ["devices.num_processes=0"], r"'devices.num_processes' must be positive"),
    (None, ["devices.process_id=-1"], r"'devices.process_id' must be >= 0"),
    (None, ["devices.num_processes=2", "devices.process_id=2"],
     r"'devices.process_id' \(2\) must be less than 'devices.num_processes' \(2\)"),
    (None, ["devices.num_processes=2", "devices.process_id=1"],
     r"devices: cannot join the 2-process run: .*coordinator_address is not set"),
    (None, ["devices.num_processes=two"], r"'devices.num_processes' expects int or null"),
    # bad override syntax
    (None, ["train.steps"], r"override 'train.steps' must look like key.path=value"),
    (None, ["=5"], r"override '=5' has an empty key path"),
    (None, ["train..steps=5"], r"override 'train..steps=5' has an empty key path"),
    (None, ["train.steps.x=1"], r"override 'train.steps.x=1': 'train.steps' is not a "
                                r"mapping"),
    (None, ["train.steps=!!python/object/apply:os.system ['true']"],
     r"override .train.steps=.*: value is not valid YAML .*python/object"),
]


def test_yaml_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: 5\n")
    evil = tmp_path / "evil.yaml"
    evil.write_text("train: !!python/object/apply:os.system ['true']\n")
    for path, msg in [(bad, r"not valid YAML: .*line 2"),
                      (evil, r"not valid YAML: .*python/object/apply.* line 1")]:
        with pytest.raises(ConfigError, match=msg) as info:
            C.load(path)
        assert "\n" not in str(info.value)


def test_at_least_50_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("raw, overrides, msg", CASES,
                         ids=[f"{i}:{(o or ['raw'])[-1][:30]}" for i, (_, o, _) in
                              enumerate(CASES)])
def test_bad_config(raw, overrides, msg):
    with pytest.raises(ConfigError, match=msg) as info:
        trainer_from_config(C.from_dict(BASE if raw is None else raw, overrides))
    assert "\n" not in str(info.value)       # one line on the command line


def test_cli_keep_best_unknown_metric_exits_2_before_training(tmp_path, capsys):
    import yaml
    from lamina.training.cli import main
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(dict(BASE, run={"output_dir": str(tmp_path / "run")})))
    assert main(["train", str(cfg), "train.keep_best=eval/acc"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lamina: error: train.keep_best='eval/acc'") and err.count("\n") == 1
    assert "eval/accuracy, eval/loss" in err
    assert not (tmp_path / "run").exists()      # failed before anything was written
