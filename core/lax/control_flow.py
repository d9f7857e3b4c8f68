"""Structured control flow: `cond`/`switch`, `while_loop`, `fori_loop`, `scan`, `map`
and `associative_scan`, with jax.lax's names and semantics.

Three higher-order primitives carry closed sub-programs (no constvars; captured
constants are leading operands) in their params, as `jit_p` does (calls.py):

* `cond_p(index, *operands, branches)`: runs `branches[index]`; lowered to
  `stablehlo.case`.
* `while_p(*cond_consts, *body_consts, *carry, cond_program, body_program,
  cond_nconsts, body_nconsts)`: lowered to `stablehlo.while`. Forward-mode only.
* `scan_p(*consts, *carry, *xs, program, length, reverse, num_consts, num_carry,
  unroll)`: `program(consts, carry, x) -> (carry, y)` over the leading axis of `xs`;
  lowered to `stablehlo.while` with dynamic slices of `xs` and dynamic updates of `ys`.

Their jvp / transpose / batching / partial-eval rules transform the sub-programs with
`ad.jvp_program`, `ad.transpose_program`, `batching.batch_program` and
`partial_eval.partial_eval_program`. Loops find which carries have nonzero tangents
(are batched, are unknown) by iterating to a fixpoint, since a carry's output feeds
its next input. `fori_loop` and `map` are scans; `associative_scan` is plain lax ops.

One module per family, each primitive with its rules: `conditionals` (cond_p: cond,
switch), `scans` (scan_p: scan, map, associative_scan) and `loops` (while_p:
while_loop, fori_loop), sharing the tracing, program-rearranging, lowering and
carry-checking helpers of `_control_flow_util`. This module is the family's namespace.
"""
# NOTE: the primitives stay importable from here (not in __all__, as before the split).
from lamina.lax.conditionals import cond, cond_p, switch  # noqa: F401
from lamina.lax.loops import fori_loop, while_loop, while_p  # noqa: F401
from lamina.lax.scans import associative_scan, map, scan, scan_p  # noqa: F401

__all__ = [
    "associative_scan",
    "cond",
    "fori_loop",
    "map",
    "scan",
    "switch",
    "while_loop",
]
