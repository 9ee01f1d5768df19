"""Import a user module of N layered assets and build its Definitions (what a code location does on load)."""

import _common

args = _common.parse_args()
dg = _common.import_system(args.system)
source = _common.layered_assets_source(args.system, args.size, args.width)
module = _common.load_generated(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
assert len(module.ASSETS) == args.size
# Dagster builds its repository and asset graph lazily, on first use: force that here. (Its stricter
# Definitions.validate_loadable also plans every job, which took 5 s more for 10,000 assets.) Locus
# builds and validates the graph in the Definitions constructor.
resolve_asset_graph = getattr(module.defs, "resolve_asset_graph", None)
if resolve_asset_graph is not None:
    resolve_asset_graph()
_common.emit(assets=args.size)
