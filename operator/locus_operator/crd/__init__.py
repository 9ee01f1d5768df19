"""CustomResourceDefinitions built from the resource models (pure functions:
model in, CRD dict out); `locus_operator.crdgen` writes them to `crds/`."""
