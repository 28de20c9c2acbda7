"""The live fleet set against export-config's snapshot: what counts as a change."""

from __future__ import annotations

import asyncio
from pathlib import Path
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


async def test_a_saved_origin_on_its_way_out_is_not_launched_again(tmp_path: Path) -> None:
    """Review 61, F3: the snapshot holds, beside a group's origin, one more
    on its way out (an export taken while an origin was replaced). The guard
    before the first DELETE counted it out, recreate in: it launched two
    origins for a fleet of one, which the group's scale policy (at most one
    origin, Red5's default) refused, so recreate failed, and failed again at
    each try. Recreate now launches and waits for the origins the guard
    counts, and finishes."""
    import json

    from runbook.executor import Outcome
    from runbook.journal import read
    from runbook.model import NODEGROUP_RECREATED
    from runbook.rehearsal import cloud
    from tests.rehearsal import rehearsal_host
    from tests.scripted import ScriptedFrontEnd
    from tests.test_rollback import host_state, session

    edited: list[str] = []

    def leaving_origin_in_the_snapshot(step: Any, plan: Any) -> None:
        if step.id != "delete-nodegroups" or edited:
            return
        saved = host_state(host).snapshots()[-1]
        data = json.loads(saved.path.read_text())
        one = next(g for g in data["nodegroups"] if "1o-1e" in str(g["scalePolicy"]))
        one["nodes"].append({"identifier": "node-replaced-0", "role": "origin",
                             "state": "terminating"})
        saved.path.write_text(json.dumps(data))
        edited.append(one["launchConfig"])

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd(on_confirm=leaving_origin_in_the_snapshot)
        outcome = await session(host, journal).run(front)
        groups = await asyncio.to_thread(cloud.list_nodegroups, host.sandbox, *host.new_db)
    assert edited, front.text()[-3000:]
    assert outcome is Outcome.DONE, front.text()[-3000:]
    made = [r for r in read(journal) if r.get("kind") == NODEGROUP_RECREATED]
    assert [r["origins"] for r in made if r["launch_config"] == edited[0]] == [1], made
    assert len(groups) == len(made), groups


def test_a_scaleout_threshold_changed_since_the_snapshot_is_a_change() -> None:
    """Facts audit 61 follow-up: a 3.x snapshot keeps each role's scale-out
    alarm threshold, which recreate names where it differs from the new
    database's; one changed on the live stream manager since was no change to
    the fleet's look, so recreate named the stale one. Only where both sides
    read them (a 4.0 live keeps none, nor did snapshots before F13)."""
    alarms = {"edge": 75.0, "origin": 60.0, "relay": 60.0, "transcoder": 60.0}
    saved = {**fleet(group("a", "inservice")), "scaleout_alarms": alarms}
    now = {**fleet(group("a", "inservice")), "scaleout_alarms": {**alarms, "edge": 80.0}}
    assert changes(saved, now) == [
        "the scale-out alarm threshold of edge is 80 % now, 75 % in the snapshot"]
    gone = {role: value for role, value in alarms.items() if role != "relay"}
    assert changes(saved, {**now, "scaleout_alarms": {**gone, "edge": 75.0}}) == [
        "the scale-out alarm threshold of relay is no longer read, 60 % in the snapshot"]
    assert changes(saved, {**now, "scaleout_alarms": alarms}) == []
    # A snapshot without them (4.0, or taken before F13) has none to go stale.
    assert changes(fleet(group("a", "inservice")), now) == []


def test_a_scaleout_threshold_set_since_the_snapshot_for_a_role_it_had_none_is_a_change(
        ) -> None:
    """Review 62b, L5: only the roles the snapshot had a threshold for were
    compared, so one set on the live stream manager since, for a role that
    had none at export-config, was no change, and recreate did not name it."""
    alarms = {"edge": 75.0, "origin": 60.0}
    saved = {**fleet(group("a", "inservice")), "scaleout_alarms": alarms}
    now = {**fleet(group("a", "inservice")),
           "scaleout_alarms": {**alarms, "relay": 80.0}}
    assert changes(saved, now) == [
        "the scale-out alarm threshold of relay is 80 % now, none in the snapshot"]


async def test_a_threshold_changed_after_export_is_taken_again_before_the_cutover(
        tmp_path: Path) -> None:
    """The same on the rehearsal's 6.2 (API 3.1): prepared one day, the edge
    threshold raised the next, resumed in the window. export-config's look
    at the fleet now reads the thresholds too: it names the change and takes
    the snapshot again, so recreate names the threshold the old stream
    manager has now, not the one it had."""
    import json

    from runbook.executor import Answer, Decision, Outcome
    from runbook.journal_replay import replay
    from runbook.rehearsal import cloud
    from runbook.session import Session
    from steps import procedure
    from steps.facts import Red5Facts
    from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse
    from tests.scripted import ScriptedFrontEnd

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        with cloud.locked_state(host.sandbox) as state:
            state.database(*host.old_db)["scaleout_alarms"] = {"edge": 75.0}
        first = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-2000:]
        with cloud.locked_state(host.sandbox) as state:
            state.database(*host.old_db)["scaleout_alarms"] = {"edge": 80.0}
        second = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        assert await rehearse(host, second, journal, resume=replay(journal)) \
            is Outcome.STOPPED, second.text()[-2000:]
        assert "export-config" in second.asked, second.asked
        said = [line for step, _, line in second.lines if step == "export-config"]
        assert any("threshold of edge is 80 % now, 75 % in the snapshot" in line
                   for line in said), said
        snapshots = sorted((host.sandbox / ".operator").rglob("snapshots/*.json"))
        assert json.loads(snapshots[-1].read_text())["scaleout_alarms"]["edge"] == 80.0
        preview = Session(rehearsal_settings(host), procedure(), Red5Facts(),
                          token=host.api_token, journal_path=journal,
                          state_dir=host.sandbox / ".operator", isolated=True,
                          resume=replay(journal)).preview()
    notes = [a.render() for a in preview["recreate"] or [] if "threshold" in a.render()]
    assert len(notes) == 1 and "edge: 80 %" in notes[0], notes
