"""The `locus` command."""
