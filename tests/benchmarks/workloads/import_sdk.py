"""`import locus` vs `import dagster`: what every user process pays at start."""

import _common

args = _common.parse_args()
dg = _common.import_system(args.system)
assert callable(dg.asset) and callable(dg.Definitions)
_common.emit()
