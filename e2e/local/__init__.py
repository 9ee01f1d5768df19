"""The local cluster harness (DESIGN.md section 5b)."""
