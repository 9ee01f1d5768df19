"""A generated location of MANY_ASSETS assets (default 10,000) in layers of
100, each with two order-only upstreams, a group, kinds, a description and
metadata: the size where snapshots must stream in chunks and decode fast."""

import os

import locus as dg

N = int(os.environ.get("MANY_ASSETS", "10000"))
WIDTH = 100


def _make(n):
    layer, index = divmod(n, WIDTH)
    ups = [f"a_{layer - 1}_{(index + k) % WIDTH}" for k in (0, 3)] if layer else []

    def compute():
        return n

    return dg.asset(
        name=f"a_{layer}_{index}",
        deps=ups,
        group_name=f"layer_{layer % 10}",
        kinds=["python"],
        description=f"asset {n} of a generated location",
        metadata={"n": n},
    )(compute)


assets = [_make(n) for n in range(N)]
defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("everything", selection="*")])
