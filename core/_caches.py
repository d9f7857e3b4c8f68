"""`lamina.clear_caches()`: drop every compiled program lamina holds in memory (jax's
`jax.clear_caches`).

Each XLA:CPU executable keeps its JIT-compiled code in memory mappings of its own; a
process that compiles many thousands of programs (a long test run, say) can reach the
kernel's per-process mapping limit (vm.max_map_count, 65530 by default), after which
XLA's next allocation fails inside a compile. Clearing the caches lets the executables
(and their mappings) go; the persistent cache on disk is kept, so recompiling is a load.
"""
from __future__ import annotations


def clear_caches() -> None:
    """Forget every compiled program held in memory: jitted functions' specialisations,
    eager primitives' executables, pmap and sharded programs, and the compile cache.

    >>> import lamina
    >>> lamina.clear_caches()
    """
    from lamina import _api_jit, _api_pmap, _spmd
    from lamina.backend import compile as compile_
    from lamina.interpreters import eval as eval_
    from lamina.lax import calls
    for jitted in list(_api_jit._live):
        jitted.clear_cache()
    for cache in (compile_._compile_cache, compile_._replicated_cache,
                  compile_._partitioned_cache, eval_._executables, calls._jit_executables,
                  _api_pmap._pmap_executables, _spmd._executables):
        cache.clear()
    compile_.release_free_heap()
