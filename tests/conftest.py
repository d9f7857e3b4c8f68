"""Test environment: checks on, x64 off, a fixed-seed rng, and a guard that fails any
test which leaves lamina's global config changed."""
import os
import tempfile

os.environ.setdefault("LAMINA_ENABLE_CHECKS", "1")
# The persistent compilation cache goes to a fresh directory per run, not ~/.cache
# (point LAMINA_CACHE_DIR at a fixed directory to reuse compiles across runs).
os.environ.setdefault("LAMINA_CACHE_DIR", tempfile.mkdtemp(prefix="lamina-test-cache-"))
# Collective programs must fail fast instead of deadlocking the 2-core CI box.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_collective_call_warn_stuck_timeout_seconds=2 "
    "--xla_cpu_collective_call_terminate_timeout_seconds=4 "
    "--xla_cpu_collective_timeout_seconds=4")
# The jax oracle runs on the CPU only.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    # NOTE: each XLA:CPU executable holds memory mappings of its own; a worker that
    # keeps every program of ~5,000 tests reaches vm.max_map_count (65530) and XLA
    # crashes in its next compile. Past 30,000 mappings, the programs are dropped after
    # the test file (recompiling everything after every file costs minutes).
    yield
    try:
        with open("/proc/self/maps", "rb") as maps:
            n_maps = sum(1 for _ in maps)
    except OSError:
        n_maps = None
    if n_maps is None or n_maps > 30_000:
        import lamina
        lamina.clear_caches()


@pytest.fixture(autouse=True)
def _config_unchanged():
    from lamina.config import config
    before = config.flags()
    yield
    after = config.flags()
    assert before == after, f"test changed lamina's global config: {before} -> {after}"
