"""The live fleet against the snapshot export-config took of it.

The cutover rebuilds what the snapshot holds, however long ago it was taken.
A fleet changed since (a nodegroup retired or added, a launch config edited)
would come back as it was, or not at all; so, until the cutover begins, the
steps that trust the snapshot look at the fleet again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook.hoststate import origins_to_rebuild
from runbook.smapi import SCALEOUT_ROLES, StreamManagerAPI, reads_alarms
from steps.common import being_deleted, standing_origins, together

# How many differences are named before the rest are counted: the message
# is read at a confirmation, not a diff.
_NAMED = 5


async def fleet_now(api: StreamManagerAPI) -> dict[str, Any]:
    """The live fleet in the snapshot's shape (nodegroups with their nodes,
    launch configs and scale policies by name), read without journalling:
    a look, as a check takes one. Groups being deleted are left out, as
    export-config leaves them out, and named under "going". Where the API is
    3.x, each role's scale-out alarm threshold too, as export-config keeps
    them (facts audit 61 follow-up: one changed since was not seen, and
    recreate named the stale one); read beside the nodes, no read later."""
    listed, configs, policies = await together(
        api.list_nodegroups(), api.list_launchconfigs(), api.list_scalepolicies())
    groups = [group for group in listed if not being_deleted(group)]
    roles = SCALEOUT_ROLES if reads_alarms(api.version) else ()
    nodes, config_bodies, policy_bodies, thresholds = await together(
        together(*(api.list_nodes(group["name"]) for group in groups)),
        together(*(api.get_launchconfig(name) for name in configs)),
        together(*(api.get_scalepolicy(name) for name in policies)),
        together(*(api.scaleout_threshold(role) for role in roles)))
    alarms = {"scaleout_alarms": {role: value for role, value
                                  in zip(roles, thresholds, strict=True)
                                  if value is not None}} if roles else {}
    return {
        **alarms,
        "nodegroups": [{**group, "nodes": found}
                       for group, found in zip(groups, nodes, strict=True)],
        "going": sorted(str(group["name"]) for group in listed if being_deleted(group)),
        "launchconfigs": dict(zip(configs, config_bodies, strict=True)),
        "scalepolicies": dict(zip(policies, policy_bodies, strict=True)),
        # The listing as the API gave it, being deleted too: delete-nodegroups
        # deletes by this very read, not by a second GET of the same list.
        "listed": listed,
    }


def changes(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the snapshot `saved` and the fleet `now` in what
    the cutover rebuilds by: each nodegroup's regions, launch config and
    scale policy, and each launch config's and scale policy's body. Empty
    when the snapshot still holds the fleet. Origins are counted apart
    (origins_changed): their number moves on its own."""
    found: list[str] = []
    before, after = _groups(saved), _groups(now)
    going = set(now.get("going") or ())
    found += [f"nodegroup {name} is being deleted" if name in going else
              f"nodegroup {name} is gone" for name in sorted(before.keys() - after.keys())]
    found += [f"nodegroup {name} is new" for name in sorted(after.keys() - before.keys())]
    for name in sorted(before.keys() & after.keys()):
        found += [f"nodegroup {name}'s {what} changed"
                  for what in ("regions", "launch config", "scale policy")
                  if before[name][what] != after[name][what]]
    for kind, key in (("launch config", "launchconfigs"), ("scale policy", "scalepolicies")):
        was, is_ = dict(saved.get(key) or {}), dict(now.get(key) or {})
        found += [f"{kind} {name} is gone" for name in sorted(was.keys() - is_.keys())]
        found += [f"{kind} {name} is new" for name in sorted(is_.keys() - was.keys())]
        found += [f"{kind} {name} changed" for name in sorted(was.keys() & is_.keys())
                  if was[name] != is_[name]]
    return found + _thresholds_changed(saved, now)


def _thresholds_changed(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The scale-out alarm thresholds the snapshot keeps (a 3.x live's) that
    the live stream manager no longer has, and those it has now for a role
    the snapshot has none for: recreate names the snapshot's.
    Nothing where either side has none (a 4.0 live, a snapshot from before
    they were kept): there is nothing of them to go stale."""
    was, is_ = saved.get("scaleout_alarms"), now.get("scaleout_alarms")
    if not isinstance(was, Mapping) or not isinstance(is_, Mapping):
        return []
    stale = [f"the scale-out alarm threshold of {role} is "
             + (f"{is_[role]:g} % now" if role in is_ else "no longer read")
             + f", {value:g} % in the snapshot"
             for role, value in was.items() if is_.get(role) != value]
    # Set since for a role the snapshot has none for (review 62b, L5: not
    # named, so recreate left it out).
    return stale + [f"the scale-out alarm threshold of {role} is {is_[role]:g} % now, none "
                    "in the snapshot" for role in is_ if role not in was]


def origins_changed(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The nodegroups (in both) whose origins recreate would launch in another
    number now: origins_to_rebuild, recreate's own count (origins on their
    way out are not counted). Nodes are not compared: an origin replaced
    since is rebuilt the same."""
    before, after = _groups(saved), _groups(now)
    return [f"nodegroup {name} has {after[name]['origins']} origin(s), the snapshot "
            f"{before[name]['origins']}"
            for name in sorted(before.keys() & after.keys())
            if before[name]["rebuilt"] != after[name]["rebuilt"]]


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
            "origins": len(standing_origins(group.get("nodes") or [])),
            "rebuilt": origins_to_rebuild(group),
        }
        for group in fleet.get("nodegroups") or [] if not being_deleted(group)
    }
