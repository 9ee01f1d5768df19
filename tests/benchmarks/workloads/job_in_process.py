"""Run a linear job of N ops with `execute_in_process`."""

import _common

args = _common.parse_args()
dg = _common.import_system(args.system)
module = _common.load_generated(
    args.cache, f"linear_{args.system}_{args.size}", _common.linear_job_source(args.system, args.size)
)
result = module.linear.execute_in_process()
assert result.success
assert result.output_for_node(f"op_{args.size - 1}") == sum(range(args.size))
_common.emit(steps=args.size)
