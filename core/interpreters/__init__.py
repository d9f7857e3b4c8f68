"""Interpreters: one module per transformation, each owning its rule table."""
