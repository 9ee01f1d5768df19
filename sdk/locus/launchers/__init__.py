"""Run launchers: how a queued run becomes a running process (local: a child
of the location's code server; Kubernetes: a Job, in a later issue)."""
