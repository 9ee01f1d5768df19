"""Stubs generated from ../code_server.proto by scripts/generate; do not edit."""
