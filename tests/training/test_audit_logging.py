"""Issue 8 audit, logging: the TensorBoard event files of a config-driven run, read back
with TensorBoard's own reader and with a strict reader of its record format
(CRC-checked) rather than lamina's reader; the JSONL file; the progress display;
`lamina plot`'s PNG."""
import glob
import io
import os
import shutil
import struct

import numpy as np
import pytest

from lamina.training import config as C
from lamina.training import trainer_from_config
from lamina.training.logging import MetricLogger, read_jsonl

CFG = {"model": {"name": "mlp", "args": {"hidden": [8]}},
       "data": {"name": "synthetic", "args": {"n": 96, "dim": 4, "classes": 3}},
       "optim": {"name": "adam", "learning_rate": 0.01},
       "train": {"steps": 6, "batch_size": 16, "log_every": 2, "eval_every": 3,
                 "progress": "none"}}


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), bitwise, independent of tensorboardX's table."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _read_records(path):
    """TFRecord framing: u64 length, masked crc32c(length), payload, masked crc32c(payload);
    every CRC must match (a torn or corrupt file fails here)."""
    from tensorboardX.proto.event_pb2 import Event
    with open(path, "rb") as f:
        data = f.read()
    pos, events = 0, []
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert hcrc == _masked(header), f"{path}: bad length CRC at byte {pos}"
        payload = data[pos + 12:pos + 12 + length]
        (pcrc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert pcrc == _masked(payload), f"{path}: bad payload CRC at byte {pos}"
        events.append(Event.FromString(payload))
        pos += 16 + length
    return events


def test_crc32c_is_the_standard_one():
    assert _crc32c(b"123456789") == 0xE3069283        # the CRC-32C check value


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb")
    cfg = C.from_dict(CFG, [f"run.output_dir={out}"])
    result = trainer_from_config(cfg).fit()
    return out, result


def test_event_files_have_the_issue_tags_at_the_global_steps(run):
    out, _ = run
    files = glob.glob(os.path.join(out, "events.out.tfevents.*"))
    assert len(files) == 1
    events = _read_records(files[0])
    assert events[0].file_version == "brain.Event:2"
    scalars, plugins = {}, {}
    for ev in events:
        for v in ev.summary.value:
            if v.HasField("simple_value"):
                scalars.setdefault(v.tag, []).append((ev.step, v.simple_value))
            if v.metadata.plugin_data.plugin_name:
                plugins.setdefault(v.metadata.plugin_data.plugin_name, []).append(
                    (ev.step, v.tag, v))
    for tag in ("train/loss", "train/learning_rate", "train/grad_norm",
                "train/steps_per_sec", "train/accuracy"):
        assert [s for s, _ in scalars[tag]] == [2, 4, 6], tag
    for tag in ("eval/loss", "eval/accuracy"):
        assert [s for s, _ in scalars[tag]] == [3, 6], tag
    assert all(v == pytest.approx(0.01) for _, v in scalars["train/learning_rate"])
    # hparams at the start: TensorBoard's hparams plugin with the config's keys
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    hp = {tag: HParamsPluginData.FromString(v.metadata.plugin_data.content)
          for _, tag, v in plugins["hparams"]}
    start = hp["_hparams_/session_start_info"].session_start_info.hparams
    assert start["optim.learning_rate"].number_value == pytest.approx(0.01)
    assert start["model.name"].string_value == "mlp"
    assert start["train.steps"].number_value == 6
    first_scalar = min(i for i, ev in enumerate(events) if any(
        v.HasField("simple_value") for v in ev.summary.value))
    hp_index = min(i for i, ev in enumerate(events) if any(
        v.tag == "_hparams_/session_start_info" for v in ev.summary.value))
    assert hp_index < first_scalar
    # the JSONL file holds the same numbers at the same steps
    rows = read_jsonl(str(out))
    for tag, points in scalars.items():
        from_jsonl = [(r["step"], r[tag]) for r in rows if tag in r]
        assert [s for s, _ in from_jsonl] == [s for s, _ in points], tag
        np.testing.assert_allclose([v for _, v in from_jsonl], [v for _, v in points],
                                   rtol=1e-6)


def test_tensorboards_own_reader_sees_the_scalars(run):
    """TensorBoard's own event reader (its EventAccumulator) loads the run's file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out, result = run
    acc = EventAccumulator(str(out))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag, steps in (("train/loss", [2, 4, 6]), ("train/learning_rate", [2, 4, 6]),
                       ("train/grad_norm", [2, 4, 6]), ("train/steps_per_sec", [2, 4, 6]),
                       ("eval/loss", [3, 6]), ("eval/accuracy", [3, 6])):
        assert tag in tags, (tag, tags)
        assert [e.step for e in acc.Scalars(tag)] == steps, tag
    assert acc.Scalars("eval/accuracy")[-1].value == pytest.approx(
        result.eval_metrics["accuracy"], rel=1e-6)


def test_jsonl_matches_the_result(run):
    out, result = run
    rows = read_jsonl(str(out))
    last_eval = [r for r in rows if "eval/loss" in r][-1]
    assert last_eval["step"] == 6
    assert last_eval["eval/accuracy"] == pytest.approx(result.eval_metrics["accuracy"])
    assert last_eval["eval/loss"] == pytest.approx(result.eval_metrics["loss"])


def test_plot_png_from_jsonl_or_events(run, tmp_path):
    import matplotlib.image as mpimg
    from lamina.training.plot import plot_run
    out, _ = run
    png = plot_run(str(out), str(tmp_path / "a.png"))
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.01                   # not a blank canvas
    # without metrics.jsonl the event files are plotted
    only_events = tmp_path / "ev"
    only_events.mkdir()
    for f in glob.glob(os.path.join(out, "events.out.tfevents.*")):
        shutil.copy(f, only_events)
    png = plot_run(str(only_events))
    with open(png, "rb") as f:
        assert f.read(4) == b"\x89PNG"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl or event files"):
        plot_run(str(empty))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_and_lines_otherwise(tmp_path):
    values = {"train/loss": 0.25, "train/learning_rate": 0.001, "train/grad_norm": 1.5,
              "train/steps_per_sec": 12.0}
    tty = _Terminal()
    log = MetricLogger(str(tmp_path / "a"), total_steps=100, progress="auto", stream=tty)
    assert log.progress == "bar"
    log.progress_update(40, values)
    log.close()
    bar = tty.getvalue()
    # tqdm's bar: position, rate (steps/s), ETA, and the loss and learning rate
    assert "40/100" in bar and "step/s" in bar and "<" in bar
    assert "loss=0.25" in bar and "learning_rate=0.001" in bar
    plain = io.StringIO()
    log = MetricLogger(str(tmp_path / "b"), total_steps=100, progress="auto", stream=plain)
    assert log.progress == "lines"
    log.progress_update(40, values)
    log.close()
    line = plain.getvalue().strip()
    assert line.startswith("step 40/100 ") and "loss 0.25" in line
    assert "learning_rate 0.001" in line and "steps_per_sec 12" in line and " eta " in line
