"""(e) Decoder-only transformer LM train step: 2 pre-LayerNorm blocks, d=128, 4 heads,
causal self-attention, tanh-GELU MLP 512, learned positions, untied head; seq 64,
batch 16, vocab 256; adam(1e-3), mean next-token cross-entropy on seeded random
tokens. lamina.nn + lamina.optim vs flax.linen + optax (one module source) vs torch
(hand-written blocks with `F.scaled_dot_product_attention(is_causal=True)`)."""
from __future__ import annotations

from benchmarks.workloads._common import main, time_train_step
from benchmarks.workloads._models import lm_train_setup, torch_lm_train_setup

CHECK_RTOL = {"jax": 1e-5, "torch": 1e-4, "torch1": 1e-4}


def run(framework: str, quick: bool) -> dict:
    return time_train_step(framework, quick, lm_train_setup, torch_lm_train_setup)


if __name__ == "__main__":
    main(run)
