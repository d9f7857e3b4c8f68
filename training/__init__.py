"""lamina.training: YAML-driven training loop (not yet implemented)."""
