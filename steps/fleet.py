"""The live fleet against the snapshot export-config took of it.

The cutover rebuilds what the snapshot holds, however long ago it was taken.
A fleet changed since (a nodegroup retired or added, a launch config edited,
an origin more) would come back as it was, or not at all; so, until the
cutover begins, the steps that trust the snapshot look at the fleet again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook.smapi import StreamManagerAPI
from steps.common import being_deleted

# How many differences are named before the rest are counted: the message
# is read at a confirmation, not a diff.
_NAMED = 5


async def fleet_now(api: StreamManagerAPI) -> dict[str, Any]:
    """The live fleet in the snapshot's shape (nodegroups with their nodes,
    launch configs and scale policies by name), read without journalling:
    a look, as a check takes one. Groups being deleted are left out, as
    export-config leaves them out."""
    groups = [group for group in await api.list_nodegroups() if not being_deleted(group)]
    return {
        "nodegroups": [{**group, "nodes": await api.list_nodes(group["name"])}
                       for group in groups],
        "launchconfigs": {name: await api.get_launchconfig(name)
                          for name in await api.list_launchconfigs()},
        "scalepolicies": {name: await api.get_scalepolicy(name)
                          for name in await api.list_scalepolicies()},
    }


def changes(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the snapshot `saved` and the fleet `now`, in the
    terms the cutover rebuilds by: each nodegroup's regions, launch config,
    scale policy and number of origins, and each launch config's and scale
    policy's body. Nodes are counted, not compared: an origin replaced since
    is rebuilt the same. Empty when the snapshot still holds the fleet."""
    found: list[str] = []
    before, after = _groups(saved), _groups(now)
    found += [f"nodegroup {name} is gone" for name in sorted(before.keys() - after.keys())]
    found += [f"nodegroup {name} is new" for name in sorted(after.keys() - before.keys())]
    for name in sorted(before.keys() & after.keys()):
        was, is_ = before[name], after[name]
        found += [f"nodegroup {name}'s {what} changed"
                  for what in ("regions", "launch config", "scale policy")
                  if was[what] != is_[what]]
        if was["origins"] != is_["origins"]:
            found.append(f"nodegroup {name} has {is_['origins']} origin(s), "
                         f"not {was['origins']}")
    for kind, key in (("launch config", "launchconfigs"), ("scale policy", "scalepolicies")):
        was_named, is_named = dict(saved.get(key) or {}), dict(now.get(key) or {})
        found += [f"{kind} {name} is gone" for name in sorted(was_named.keys() - is_named.keys())]
        found += [f"{kind} {name} is new" for name in sorted(is_named.keys() - was_named.keys())]
        found += [f"{kind} {name} changed" for name in sorted(was_named.keys() & is_named.keys())
                  if was_named[name] != is_named[name]]
    return found


def said(found: list[str]) -> str:
    """The differences as one clause, the first few named."""
    more = len(found) - _NAMED
    return "; ".join(found[:_NAMED]) + (f"; and {more} more" if more > 0 else "")


def _groups(fleet: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(group["name"]): {
            "regions": sorted(str(region) for region in group.get("regions") or []),
            "launch config": group.get("launchConfig"),
            "scale policy": group.get("scalePolicy"),
            "origins": sum(1 for node in group.get("nodes") or []
                           if node.get("role") == "origin"),
        }
        for group in fleet.get("nodegroups") or [] if not being_deleted(group)
    }
