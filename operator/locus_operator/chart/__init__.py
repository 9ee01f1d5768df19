"""The Helm chart's typed source of truth: pydantic models of its values
(``values.py``), from which ``generate.py`` writes ``charts/locus/values.schema.json``,
the chart's copy of the CRDs, its RBAC rules (from ``locus_operator.rbac``) and
the values table of its README."""
