"""Inventory department. Expected: reorder_alerts == ["widget"].
It also defines sales_data-like names of its own to show that jobs and assets
are looked up per location."""
from locus import AssetSelection, Definitions, asset, define_asset_job


@asset
def inventory_levels():
    return {"widget": 2, "gadget": 40}


@asset
def reorder_alerts(inventory_levels):
    return [item for item, count in inventory_levels.items() if count < 5]


refresh = define_asset_job("refresh", selection=AssetSelection.all())

inventory_defs = Definitions(assets=[inventory_levels, reorder_alerts], jobs=[refresh])
