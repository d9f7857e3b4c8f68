"""lamina.optim.groups: path patterns -> label trees / masks on a transformer-like
params dict (nested dicts, a list of layers, a tuple, a None leaf), checked by hand and
through optax's own multi_transform / masked as the consumer (the label tree and mask
are plain Python values, so optax accepts them), and through lamina.optim's combinators
when they exist."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina.numpy as lnp
from lamina import tree_util as ltu
from lamina.optim import groups as G


def _dense(i, o):
    return {"kernel": np.ones((i, o), np.float32), "bias": np.zeros(o, np.float32)}


def _layer(d):
    return {"attn": {n: _dense(d, d) for n in ("query", "key", "value", "out")},
            "mlp": {"fc1": _dense(d, 2 * d), "fc2": _dense(2 * d, d)},
            "ln1": {"scale": np.ones(d, np.float32), "bias": np.zeros(d, np.float32)},
            "ln2": {"scale": np.ones(d, np.float32), "bias": np.zeros(d, np.float32)}}


PARAMS = {"embed": {"embedding": np.ones((11, 4), np.float32)},
          "encoder": {"layers": [_layer(4), _layer(4)],
                      "final_ln": {"scale": np.ones(4, np.float32)}},
          "pos": (np.zeros((8, 4), np.float32), np.zeros(8, np.float32)),
          "head": _dense(4, 3),
          "unused": None}


def _label_of(labels, path):
    node = labels
    for seg in path.split("/"):
        node = node[int(seg)] if isinstance(node, (list, tuple)) else node[seg]
    return node


def test_param_paths():
    paths = G.param_paths(PARAMS)
    assert "encoder/layers/1/attn/query/kernel" in paths
    assert "pos/0" in paths and "pos/1" in paths
    assert len(paths) == len(ltu.tree_leaves(PARAMS)) == 1 + 2 * 16 + 1 + 2 + 2


@pytest.mark.parametrize("pattern, path, expected", [
    ("*/bias", "head/bias", True),
    ("*/bias", "encoder/layers/0/ln1/bias", False),
    ("**/bias", "encoder/layers/0/ln1/bias", True),
    ("**/bias", "bias", True),
    ("encoder/**", "encoder/layers/0/mlp/fc1/kernel", True),
    ("encoder/**", "encoder", True),
    ("encoder/**", "embed/embedding", False),
    ("encoder/layers/*/attn/**", "encoder/layers/1/attn/key/bias", True),
    ("encoder/layers/1/**", "encoder/layers/0/attn/key/bias", False),
    ("**/attn/[qk]*/kernel", "encoder/layers/0/attn/query/kernel", True),
    ("**/attn/[qk]*/kernel", "encoder/layers/0/attn/value/kernel", False),
    ("**/ln?/*", "encoder/layers/0/ln2/scale", True),
    ("**/fc*/**", "encoder/layers/0/mlp/fc2/bias", True),
    ("**/mlp/**/bias", "encoder/layers/0/mlp/fc2/bias", True),
    ("**", "anything/at/all", True),
    ("head", "head/kernel", False),
    ("head/kernel/**", "head/kernel", True),
])
def test_path_matches(pattern, path, expected):
    assert G.path_matches(pattern, path) is expected


def test_labels_by_path_first_rule_wins_and_default():
    fn = G.labels_by_path({"embed/**": "frozen", ("**/bias", "**/scale"): "no_decay",
                           "pos/*": "frozen", "**/attn/**": "attn"}, default="decay")
    labels = fn(PARAMS)
    assert ltu.tree_structure(labels) == ltu.tree_structure(PARAMS)
    assert labels["unused"] is None
    expect = {"embed/embedding": "frozen", "pos/1": "frozen", "head/kernel": "decay",
              "head/bias": "no_decay", "encoder/final_ln/scale": "no_decay",
              "encoder/layers/0/ln1/bias": "no_decay",
              # the bias rule comes before the attn rule
              "encoder/layers/1/attn/query/bias": "no_decay",
              "encoder/layers/1/attn/query/kernel": "attn",
              "encoder/layers/0/mlp/fc2/kernel": "decay"}
    for path, label in expect.items():
        assert _label_of(labels, path) == label, path
    counts = {lab: ltu.tree_leaves(labels).count(lab)
              for lab in ("frozen", "no_decay", "attn", "decay")}
    assert counts == {"frozen": 3, "no_decay": 1 + 1 + 2 * 10, "attn": 8, "decay": 1 + 4}


def test_mask_by_path():
    mask = G.mask_by_path(["**/bias", "**/scale", "embed/**"], invert=True)(PARAMS)
    assert mask["unused"] is None
    assert mask["head"] == {"kernel": True, "bias": False}
    assert mask["embed"]["embedding"] is False
    assert mask["encoder"]["layers"][1]["ln2"] == {"scale": False, "bias": False}
    assert mask["pos"] == (True, True)
    only = G.mask_by_path("encoder/layers/0/**")(PARAMS)
    assert sum(ltu.tree_leaves(only)) == 16


def test_namedtuple_and_lamina_arrays():
    class Dense(NamedTuple):
        kernel: object
        bias: object

    params = {"blocks": [Dense(lnp.ones((2, 2)), lnp.zeros(2))]}
    assert G.param_paths(params) == ["blocks/0/kernel", "blocks/0/bias"]
    labels = G.labels_by_path({"**/bias": "b"}, default="w")(params)
    assert labels == {"blocks": [Dense("w", "b")]}


def test_errors():
    with pytest.raises(ValueError, match=r"pattern\(s\) \['\*\*/biass'\] match no "
                                         r"parameter.*embed/embedding"):
        G.labels_by_path({"**/biass": "x"}, default="y")(PARAMS)
    assert G.labels_by_path({"**/biass": "x"}, default="y", strict=False)(PARAMS)["head"] \
        == {"kernel": "y", "bias": "y"}
    # A pattern shadowed by an earlier rule still counts as used.
    G.labels_by_path({"**": "a", "head/*": "b"})(PARAMS)
    with pytest.raises(ValueError, match=r"no rule matches parameter\(s\) "
                                         r"\['embed/embedding'.*pass default="):
        G.labels_by_path({"encoder/**": "x", "head/**": "y"}, strict=False)(PARAMS)
    with pytest.raises(ValueError, match=r"mask_by_path: pattern\(s\) \['nope'\]"):
        G.mask_by_path(["**/bias", "nope"])(PARAMS)
    with pytest.raises(ValueError, match=r"bad path pattern 'a//b'"):
        G.mask_by_path("a//b")
    with pytest.raises(TypeError, match=r"a path pattern must be a str, got int"):
        G.labels_by_path({3: "x"})
    with pytest.raises(TypeError, match=r"`rules` must be a dict"):
        G.labels_by_path([("**", "x")])


def _sgd_like_steps(tx, params, steps=2):
    state = tx.init(params)
    grads = jax.tree.map(lambda p: jnp.ones_like(p), params)
    for _ in range(steps):
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_with_optax_multi_transform_and_masked():
    jparams = jax.tree.map(jnp.asarray, PARAMS)
    label_fn = G.labels_by_path({"embed/**": "frozen", "**/bias": "fast"}, default="slow")
    tx = optax.multi_transform({"frozen": optax.set_to_zero(), "fast": optax.sgd(1.0),
                                "slow": optax.sgd(0.1)}, label_fn)
    out = _sgd_like_steps(tx, jparams)
    np.testing.assert_allclose(out["embed"]["embedding"], PARAMS["embed"]["embedding"])
    np.testing.assert_allclose(out["head"]["bias"], PARAMS["head"]["bias"] - 2.0)
    np.testing.assert_allclose(out["head"]["kernel"], PARAMS["head"]["kernel"] - 0.2,
                               rtol=1e-6)

    mask_fn = G.mask_by_path(["**/bias", "**/scale"], invert=True)
    tx = optax.adamw(0.1, weight_decay=0.5, mask=mask_fn)
    ref = optax.chain(optax.scale_by_adam(), optax.scale(-0.1))
    out, plain = _sgd_like_steps(tx, jparams, 1), _sgd_like_steps(ref, jparams, 1)
    np.testing.assert_allclose(out["head"]["bias"], plain["head"]["bias"])
    assert not np.allclose(out["head"]["kernel"], plain["head"]["kernel"])


def test_with_lamina_combinators_if_present():
    optim = pytest.importorskip("lamina.optim")
    needed = ("multi_transform", "masked", "sgd", "set_to_zero", "apply_updates")
    if not all(hasattr(optim, n) for n in needed):
        pytest.skip("lamina.optim combinators not landed yet")
    lparams = ltu.tree_map(lnp.asarray, PARAMS)
    label_fn = G.labels_by_path({"embed/**": "frozen", "**/bias": "fast"}, default="slow")
    tx = optim.multi_transform({"frozen": optim.set_to_zero(), "fast": optim.sgd(1.0),
                                "slow": optim.sgd(0.1)}, label_fn)
    state = tx.init(lparams)
    grads = ltu.tree_map(lnp.ones_like, lparams)
    updates, state = tx.update(grads, state, lparams)
    out = optim.apply_updates(lparams, updates)
    np.testing.assert_allclose(np.asarray(out["embed"]["embedding"]),
                               PARAMS["embed"]["embedding"])
    np.testing.assert_allclose(np.asarray(out["head"]["bias"]), PARAMS["head"]["bias"] - 1)
    masked = optim.masked(optim.sgd(1.0), G.mask_by_path("head/**"))
    state = masked.init(lparams)
    updates, _ = masked.update(grads, state, lparams)
    out = optim.apply_updates(lparams, updates)
    np.testing.assert_allclose(np.asarray(out["head"]["kernel"]), PARAMS["head"]["kernel"] - 1)
    np.testing.assert_allclose(np.asarray(out["encoder"]["final_ln"]["scale"]),
                               PARAMS["encoder"]["final_ln"]["scale"] + 1)  # passed through
