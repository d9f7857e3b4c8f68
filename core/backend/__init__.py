"""The only package (with interpreters/lowering.py) that touches jaxlib."""
