"""Manifest builders shared by launcher, executor and operator.

Pure functions from small frozen specs to plain dicts (the shape ``kubectl``
reads); nothing here talks to a cluster or imports the Kubernetes client.
"""
