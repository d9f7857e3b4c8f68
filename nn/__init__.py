"""lamina.nn: Flax-like modules with explicit parameter pytrees (not yet implemented)."""
