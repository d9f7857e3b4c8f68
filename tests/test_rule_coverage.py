"""Every primitive has a rule for every transformation, unless it is exempted here with
the reason. A new primitive without its rules fails this test, not a user's program."""
from __future__ import annotations

import pytest

import lamina  # noqa: F401  (registers every primitive and its rules)
import lamina.ad_checkpoint  # noqa: F401
import lamina.custom_derivatives  # noqa: F401
from lamina.interpreters import ad, batching, lowering
from lamina.ir import all_primitives

NO_JVP = {
    "geqrf": "differentiated through qr, as in jax (geqrf is qr's building block)",
    "householder_product": "differentiated through qr, as in jax",
    "rng_uniform": "a stateful sample; jax defines no derivative either",
    "scatter_apply": "an arbitrary update function; jax defines no derivative either",
}
NO_BATCHING = {
    "iota": "has no operands, so it can never be batched",
    "platform_index": "has no operands, so it can never be batched",
    "rng_uniform": "scalar bounds and a stateful draw; jax has no batching rule either",
}
# Primitives linear in (some of) their array operands: each needs a transpose rule.
LINEAR = """add add_any sub neg mul div convert_element_type real imag complex conj
    select_n reduce_precision broadcast_in_dim reshape transpose squeeze rev slice
    dynamic_slice dynamic_update_slice concatenate pad split reduce_sum cumsum
    reduce_window_sum dot_general conv_general_dilated gather scatter scatter_add
    scatter_sub scatter_mul triangular_solve fft jit cond scan remat custom_lin
    psum all_gather reduce_scatter all_to_all ppermute pmap sharding_constraint
    shard_map custom_linear_solve optimization_barrier""".split()

PRIMITIVES = {p.name: p for p in all_primitives()}


def test_exemptions_name_existing_primitives():
    for name in [*NO_JVP, *NO_BATCHING, *LINEAR]:
        assert name in PRIMITIVES, f"{name} is exempted or listed but is not a primitive"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_its_rules(name):
    prim = PRIMITIVES[name]
    assert prim in lowering.lowering_rules, f"{name}: no lowering rule"
    if name not in NO_JVP:
        assert prim in ad.primitive_jvps, f"{name}: no JVP rule (exempt it with a reason?)"
    if name not in NO_BATCHING:
        assert prim in batching.primitive_batchers, f"{name}: no batching rule"
    if name in LINEAR:
        assert prim in ad.primitive_transposes, f"{name}: linear but no transpose rule"
