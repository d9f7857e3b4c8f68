"""lamina.optim: Optax-compatible gradient transformations (not yet implemented)."""
