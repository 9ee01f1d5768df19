"""Code locations: workspace.yaml, the targets that name a location's code,
and (later) the processes that serve them."""
