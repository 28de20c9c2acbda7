"""The live fleet set against export-config's snapshot: what counts as a change."""

from __future__ import annotations

from typing import Any

from steps.fleet import changes, origins_changed


def group(name: str, *states: str, **fields: Any) -> dict[str, Any]:
    """A nodegroup as the API lists it, with one origin per state given."""
    return {"name": name, "regions": fields.get("regions", ["us-east-1"]),
            "launchConfig": fields.get("launchConfig", "lc"),
            "scalePolicy": fields.get("scalePolicy", "sp"),
            "state": fields.get("state", "active"),
            "nodes": [{"role": "origin", "state": state} for state in states]
                     + [{"role": "edge", "state": "inservice"}]}


def fleet(*groups: dict[str, Any], going: tuple[str, ...] = (),
          lc: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"nodegroups": list(groups), "going": list(going),
            "launchconfigs": {"lc": lc or {"name": "lc", "image": "ami-1"}},
            "scalepolicies": {"sp": {"name": "sp"}}}


def test_the_same_fleet_is_no_change_whatever_its_nodes_do() -> None:
    """Second review: an origin replaced (the old one on its way out, the new
    one pending), a group with none and one launched since, or an edge more,
    rebuild the same: no refusal in the window for them."""
    saved = fleet(group("a", "inservice"), group("b"))
    now = fleet(group("a", "terminating", "pending"), group("b", "inservice"))
    now["nodegroups"][0]["nodes"].append({"role": "edge", "state": "pending"})
    assert changes(saved, now) == []
    assert origins_changed(saved, now) == []


def test_what_the_rebuild_goes_by_is_a_change() -> None:
    saved = fleet(group("a", "inservice"), group("b", "inservice"))
    now = fleet(group("a", "inservice", regions=["eu-west-1"]), group("c", "inservice"),
                lc={"name": "lc", "image": "ami-2"})
    assert changes(saved, now) == ["nodegroup b is gone", "nodegroup c is new",
                                   "nodegroup a's regions changed", "launch config lc changed"]


def test_a_group_being_deleted_is_said_so_not_gone() -> None:
    """Second review: a group whose DELETE is under way read "is gone"."""
    saved = fleet(group("a", "inservice"))
    assert changes(saved, fleet(going=("a",))) == ["nodegroup a is being deleted"]


def test_origins_count_apart_and_by_what_recreate_launches() -> None:
    saved = fleet(group("a", "inservice"), group("b", "inservice", "inservice"))
    now = fleet(group("a", "inservice", "inservice"), group("b", "inservice"))
    assert changes(saved, now) == []
    assert origins_changed(saved, now) == ["nodegroup a has 2 origin(s), the snapshot 1",
                                           "nodegroup b has 1 origin(s), the snapshot 2"]


def test_an_origin_counts_as_standing_unless_it_is_on_its_way_out() -> None:
    """Review (stop 53): recreate counted only pending, running and inservice
    origins, so a retry that found one in 6.2.0's NULL, UNRESPONSIVE or
    RESETTING state, or with no state at all, launched another: more origins
    than the snapshot had. Only the leaving states (FACTS-scenarios section 4:
    STOPPING, TERMINATING, DISPOSED) are not launched ones, as the fleet's
    comparison already had it."""
    from steps.common import standing_origins

    states = ["PENDING", "running", "INSERVICE", "NULL", "UNRESPONSIVE", "RESETTING", None,
              "STOPPING", "terminating", "DISPOSED"]
    nodes = [{"role": "origin", "state": state} for state in states]
    nodes += [{"role": "edge", "state": "inservice"}]
    assert [node["state"] for node in standing_origins(nodes)] == states[:7]
