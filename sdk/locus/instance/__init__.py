"""The instance: `locus.yaml` (storage, compute logs, run settings) and the
object that ties storage and compute logs together for a process."""
