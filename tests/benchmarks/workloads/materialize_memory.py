"""Materialise N layered assets with the default (ephemeral, in-memory) instance."""

import _common

args = _common.parse_args()
dg = _common.import_system(args.system)
source = _common.layered_assets_source(args.system, args.size, args.width)
module = _common.load_generated(args.cache, f"layered_{args.system}_{args.size}_{args.width}", source)
result = dg.materialize(module.ASSETS)
assert result.success
expected = _common.layered_assets_expected(args.size, args.width)
last = list(expected)[-1]
assert result.asset_value(last) == expected[last], (result.asset_value(last), expected[last])
_common.emit(steps=args.size)
