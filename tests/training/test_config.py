"""Config loading: validation errors name the path, overrides apply, output round-trips."""
import pytest

from lamina.training import config as C

BASE = {"model": {"name": "mlp"}, "train": {"steps": 5}}


def test_defaults_and_overrides():
    cfg = C.from_dict(BASE, ["optim.learning_rate=3e-4", "train.batch_size=32",
                             "model.args.hidden=[16, 8]", "optim.weight_decay_mask=**/kernel"])
    assert cfg.optim.learning_rate == 3e-4 and cfg.train.batch_size == 32
    assert cfg.model.args == {"hidden": [16, 8]}
    assert cfg.optim.weight_decay_mask == ("**/kernel",)
    assert cfg.run.resume == "auto" and cfg.devices.count == 1
    with pytest.raises(Exception):
        cfg.train.steps = 3   # frozen


def test_unknown_key_suggests_closest():
    with pytest.raises(C.ConfigError, match=r"'optim.learnig_rate'.*did you mean "
                                            r"'learning_rate'"):
        C.from_dict(BASE, ["optim.learnig_rate=1"])
    with pytest.raises(C.ConfigError, match=r"unknown config key 'trian'.*'train'"):
        C.from_dict({**BASE, "trian": {}})


@pytest.mark.parametrize("override, msg", [
    ("train.steps=abc", r"'train.steps' expects int or null, got str"),
    ("train.batch_size=1.5", r"'train.batch_size' expects int, got float"),
    ("optim.learning_rate=[1]", r"'optim.learning_rate' expects float, got list"),
    ("train.steps=true", r"'train.steps' expects int or null, got bool"),
    ("train.on_nan=ignore", r"'train.on_nan' must be one of stop, skip"),
    ("train.steps=-3", r"'train.steps' must be positive"),
    ("model.fn=a:b", r"exactly one of 'model.name'"),
    ("devices.count=3", r"not divisible by 'devices.count'"),
    ("train=5", r"'train' expects mapping, got int"),
])
def test_bad_values(override, msg):
    with pytest.raises(C.ConfigError, match=msg):
        C.from_dict(BASE, [override])


def test_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: 5\n")
    with pytest.raises(C.ConfigError, match="not valid YAML"):
        C.load(bad)
    evil = tmp_path / "evil.yaml"
    evil.write_text("train: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(C.ConfigError, match="not valid YAML"):
        C.load(evil)
    with pytest.raises(C.ConfigError, match="cannot read config file"):
        C.load(tmp_path / "missing.yaml")


def test_dump_roundtrip(tmp_path):
    cfg = C.from_dict(BASE, ["optim.schedule={name: constant_schedule, value: 0.1}"])
    C.dump(cfg, tmp_path / "c.yaml")
    assert C.load(tmp_path / "c.yaml") == cfg
