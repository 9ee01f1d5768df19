"""What Locus knows of Kubernetes, below the operator: the manifest builders
shared by the launcher, the executor and the operator (pure functions from
small frozen specs to plain dicts, the shape ``kubectl`` reads), the reading
of pod trouble (``podhealth``), and ``client``, the small standard-library
API client a run pod uses for its step Jobs. Nothing here imports the
Kubernetes Python client.
"""
