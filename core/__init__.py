"""lamina: NumPy-on-XLA arrays and composable function transformations."""
