"""Running a test module with several CPU devices.

lamina's CPU client is created once per process with `LAMINA_NUM_CPU_DEVICES` devices
(default 1, the cheap choice for single-device work), so the multi-device test modules
re-run themselves in a child process with 4 devices when the suite's client has fewer.
The child inherits the XLA collective timeouts conftest.py sets, so a rendezvous
deadlock fails in seconds instead of hanging.
"""
from __future__ import annotations

import os
import subprocess
import sys

NUM_DEVICES = 4


def in_child() -> bool:
    return os.environ.get("LAMINA_NUM_CPU_DEVICES") == str(NUM_DEVICES)


def run_in_child(test_file: str, timeout: float = 240) -> None:
    env = dict(os.environ, LAMINA_NUM_CPU_DEVICES=str(NUM_DEVICES))
    # The jax oracle gets the same device count in the child.
    flags = env.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={NUM_DEVICES}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", test_file, "-x", "-q", "-p", "no:cacheprovider"],
        env=env, capture_output=True, text=True, timeout=timeout,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(test_file))))
    assert proc.returncode == 0, (
        f"the {NUM_DEVICES}-device run of {os.path.basename(test_file)} failed "
        f"(rc={proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
