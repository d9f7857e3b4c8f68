"""Built-in datasets and the deterministic, resumable batch iterator."""
import numpy as np
import pytest

from lamina.training import ConfigError, data


def test_iterator_resume_is_exact():
    a = data.BatchIterator(50, 8, seed=3)
    seq = [a.next() for _ in range(14)]            # crosses two epoch boundaries
    b = data.BatchIterator(50, 8, seed=3)
    for _ in range(5):
        b.next()
    c = data.BatchIterator(50, 8, seed=3)
    c.restore(b.state())
    for i in range(5, 14):
        np.testing.assert_array_equal(c.next(), seq[i])
    assert c.state() == {"epoch": 2, "position": 2}
    assert sorted(np.concatenate(seq[:6]).tolist()) == sorted(set(np.concatenate(seq[:6])))
    assert not np.array_equal(seq[0], seq[6])      # reshuffled each epoch


def test_builtin_datasets():
    d = data.load_dataset("digits", eval_fraction=0.2)
    assert d.x_train.shape[1:] == (64,) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_eval) == 1797 and d.x_train.max() <= 1.0
    img = data.load_dataset("digits", image=True)
    assert img.x_train.shape[1:] == (8, 8, 1)
    c = data.load_dataset("chars", seq_len=16, max_chars=5000)
    np.testing.assert_array_equal(c.x_train[:, 1:], c.y_train[:, :-1])
    assert c.num_classes == 128 and c.x_train.max() < 128
    with pytest.raises(ConfigError, match="did you mean 'digits'"):
        data.load_dataset("digit")
    with pytest.raises(ConfigError, match="unknown key 'imag'.*'image'"):
        data.load_dataset("digits", imag=True)


def test_npz_and_memmapped_npy(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 3
    np.savez(tmp_path / "d.npz", feats=x, labs=y)
    d = data.load_dataset("npz", path=str(tmp_path / "d.npz"), features="feats",
                          labels="labs")
    assert d.num_classes == 3 and len(d.x_train) == 16
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    m = data.load_dataset("npz", path=str(tmp_path / "x.npy"), labels=str(tmp_path / "y.npy"))
    assert isinstance(m.x_train.base, np.memmap)
    idx = np.array([3, 0, 7])
    np.testing.assert_array_equal(m.x_train[idx], x[m.x_train.index[idx]])
    with pytest.raises(ConfigError, match="has no array 'nope'"):
        data.load_dataset("npz", path=str(tmp_path / "d.npz"), features="nope")
    with pytest.raises(ConfigError, match="does not exist"):
        data.load_dataset("npz", path=str(tmp_path / "missing.npz"))


def test_shuffling_is_a_deterministic_function_of_seed_and_epoch():
    n, bs = 50, 8                       # 6 batches per epoch, 2 examples dropped
    def epochs(seed, k=3):
        it = data.BatchIterator(n, bs, seed=seed)
        return [np.concatenate([it.next() for _ in range(n // bs)]) for _ in range(k)]
    a, b, c = epochs(7), epochs(7), epochs(8)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)          # same seed: same order, every epoch
    assert not np.array_equal(a[0], c[0])               # another seed: another order
    for e in range(3):
        # each epoch: a permutation (no repeats), drawn afresh; a different 2 are dropped
        expected = np.random.default_rng([7, e]).permutation(n)[:n // bs * bs]
        np.testing.assert_array_equal(a[e], expected)
        assert len(set(a[e].tolist())) == len(a[e])
    assert not np.array_equal(a[0], a[1])
    # a fresh iterator jumped to epoch 2 sees epoch 2 without replaying 0 and 1
    it = data.BatchIterator(n, bs, seed=7)
    it.restore({"epoch": 2, "position": 0})
    np.testing.assert_array_equal(it.next(), a[2][:bs])


def test_process_shards_partition_each_global_batch():
    k, bs = 4, 16
    whole = data.BatchIterator(50, bs, seed=1)
    shards = [data.BatchIterator(50, bs, seed=1, shard=(i, k)) for i in range(k)]
    for _ in range(7):                                   # across an epoch boundary
        parts = [s.next() for s in shards]
        assert all(len(p) == bs // k for p in parts)
        np.testing.assert_array_equal(np.concatenate(parts), whole.next())
