"""Benchmark workloads: one module per workload, each with `run(framework, quick)`.

Every module is runnable on its own: `python -m benchmarks.workloads.mlp lamina`
prints one JSON line of metrics (see `benchmarks/workloads/_common.py`).
"""
