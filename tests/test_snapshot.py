"""The fleet snapshot belongs to the host, and a cutover rebuilds from the one
taken before it began, whatever happens to the journal or to later runs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from runbook.executor import Answer, Decision, Outcome
from runbook.hoststate import HostState
from runbook.journal_replay import replay
from runbook.model import Note
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from tests.polling import until
from tests.rehearsal import (
    as_if_its_process_ended,
    rehearsal_host,
    rehearsal_settings,
    rehearse,
    seeded_nodegroups,
)
from tests.scripted import ScriptedFrontEnd

STOP = Decision(Answer.STOP)


def state_of(host: RehearsalHost) -> HostState:
    settings = rehearsal_settings(host)
    return HostState(host.sandbox / ".operator", settings.host.address, settings.host.port)


def cut_after_step_end(journal: Path, step: str) -> None:
    """What a crash right after `step` ended leaves: its step-end is on disk, the
    facts record that follows it is not."""
    lines = journal.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines):
        record = json.loads(line)
        if record["event"] == "step-end" and record["step"] == step:
            journal.write_text("".join(lines[: number + 1]))
            return
    raise AssertionError(f"no step-end of {step}")


async def test_a_lost_facts_record_does_not_lose_the_snapshot(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        cut_after_step_end(journal, "export-config")
        assert replay(journal).facts.get("snapshot") is None
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()


async def test_a_lost_facts_record_does_not_lose_the_snapshot_of_a_relative_journal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial (read in the code): the snapshot named its journal as
    given (`--journal run.jsonl`), and a resume naming it another way (from
    another folder) did not find its snapshot when the facts record was lost."""
    (tmp_path / "ops").mkdir()
    monkeypatch.chdir(tmp_path / "ops")
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, first, Path("run.jsonl")) is Outcome.STOPPED
        journal = tmp_path / "ops" / "run.jsonl"
        cut_after_step_end(journal, "export-config")
        monkeypatch.chdir(tmp_path)  # named another way from another folder
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, Path("ops/run.jsonl"),
                                 resume=replay(Path("ops/run.jsonl")))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()


async def test_a_new_run_mid_cutover_rebuilds_from_the_snapshot_before_it(
    tmp_path: Path,
) -> None:
    """Once the nodegroups are deleted the live system is empty; a run started
    afresh must not take that emptiness as the fleet to rebuild."""
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"backup-live": STOP})
        assert await rehearse(host, first, tmp_path / "first.jsonl") is Outcome.STOPPED
        assert cloud.list_nodegroups(host.sandbox, *host.old_db) == []
        state = state_of(host)
        assert state.cutover() is not None
        taken = state.snapshots()

        as_if_its_process_ended(host)  # the first run's, cut off
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, tmp_path / "second.jsonl")
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert state.snapshots() == taken, "nothing was exported again"
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
        assert any(sid == "export-config" and "every run rebuilds from" in detail
                   for sid, _state, detail in second.states)
        assert state.cutover() is None, "the finished cutover is closed on the host"


async def test_an_export_finding_fewer_nodegroups_warns_first(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, first, tmp_path / "first.jsonl") is Outcome.STOPPED
        group, *others = cloud.list_nodegroups(host.sandbox, *host.old_db)
        async with httpx.AsyncClient(base_url=host.api_base_url) as client:
            response = await client.delete(
                f"/streammanager/api/3.1/admin/nodegroup/{group['name']}",
                params={"accessToken": host.api_token})
            assert response.status_code == 200
        # A deleted group stays listed (terminating) until its nodes are gone.
        await until(lambda: len(cloud.list_nodegroups(host.sandbox, *host.old_db))
                    == len(others), what="the deleted group to go")

        second = ScriptedFrontEnd({"export-config": STOP})
        assert await rehearse(host, second, tmp_path / "second.jsonl") is Outcome.STOPPED
        warning = [a.text for a in second.plans["export-config"] if isinstance(a, Note)
                   and a.text.startswith("WARNING")]
        assert warning and f"{len(others)} nodegroup(s)" in warning[0]
        assert f"{len(others) + 1} nodegroup(s)" in warning[0]
        assert len(state_of(host).snapshots()) == 1, "nothing saved without a yes"


async def test_a_nodegroup_being_deleted_is_left_out_of_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone deleted a group just before the window: it is listed as
    terminating for a while, and cutover must not bring it back."""
    monkeypatch.setenv(cloud.PACE_ENV, "0.5")  # its nodes take 30 s to terminate
    async with rehearsal_host(tmp_path) as host:
        group, *others = cloud.list_nodegroups(host.sandbox, *host.old_db)
        async with httpx.AsyncClient(base_url=host.api_base_url) as client:
            response = await client.delete(
                f"/streammanager/api/3.1/admin/nodegroup/{group['name']}",
                params={"accessToken": host.api_token})
            assert response.status_code == 200
        front = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, front, tmp_path / "run.jsonl") is Outcome.STOPPED
        still = [g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db)]
        (saved,) = state_of(host).snapshots()
    assert group["name"] in still, "the group was still terminating during the export"
    kept = [g["name"] for g in json.loads(saved.path.read_text())["nodegroups"]]
    assert kept == [g["name"] for g in others]
    assert f"{group['name']} is being deleted" in front.text()


async def test_snapshots_are_the_operators_alone(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, front, tmp_path / "run.jsonl") is Outcome.STOPPED
        (saved,) = state_of(host).snapshots()
    assert saved.path.stat().st_mode & 0o777 == 0o600
    assert saved.path.parent.stat().st_mode & 0o777 == 0o700
    assert saved.taken and saved.api_version == "3.1"


def test_every_folder_made_for_a_hosts_state_is_the_operators_alone(tmp_path: Path) -> None:
    """Operator trial: the snapshot and the cutover record were 0600 in a 0700
    folder, but the folders made on the way to it (`hosts/`, the host's own)
    were 0755: which hosts this operator upgraded, for anyone to list."""
    root = tmp_path / "state" / "runbook"
    state = HostState(root, "sm1.example.com", 22)
    state.save_snapshot({"nodegroups": []}, journal=tmp_path / "run.jsonl")
    state.begin_cutover(tmp_path / "run.jsonl")
    made = [root.parent, *(path for path in root.parent.rglob("*") if path.is_dir())]
    loose = [f"{path.relative_to(tmp_path)} {path.stat().st_mode & 0o777:o}" for path in made
             if path.stat().st_mode & 0o777 != 0o700]
    assert loose == []


def test_a_clock_stepped_back_keeps_the_snapshot_the_cutover_deleted_by(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 57a, F2: once the cutover began, every run rebuilt from the newest
    snapshot whose wall-clock time was earlier than the cutover's start. The
    clock stepped back between export-config and the first DELETE (an NTP step
    after a suspend, a moved VM), recreate and the way back took an earlier
    attempt's snapshot, another fleet. The cutover's record names the snapshot
    of the run that began it."""
    from runbook import hoststate

    state = HostState(tmp_path, "sm", 22)
    times = iter(["2026-12-06T01:00:00.000+00:00",   # yesterday's attempt
                  "2026-12-07T02:00:05.000+00:00",   # tonight's export-config
                  "2026-12-07T02:00:00.000+00:00"])  # the first DELETE, the clock stepped back
    monkeypatch.setattr(hoststate, "_now", lambda: next(times))
    state.save_snapshot({"nodegroups": [{"name": "old-fleet"}]}, journal=tmp_path / "a.jsonl")
    tonight = state.save_snapshot({"nodegroups": [{"name": "tonight"}]},
                                  journal=tmp_path / "b.jsonl")
    state.begin_cutover(tmp_path / "b.jsonl")
    found = state.before_cutover()
    assert found is not None and found.path == tonight.path, found


# Red5's own 5.1.1 sample launch config (AM webapps/streammanager/WEB-INF/
# launchconfigs/aws-default-v2.json), its placeholder image filled in as an
# operator must, and a 0.0.2 scale policy with flat targets, as 5.1.1's and
# 6.2.0's ScalePolicyMaster read and write one (data README; facts audit 57b, M2).
SAMPLE_V2 = {
    "name": "aws-default-v2",
    "description": "This is a sample version launch configuration for second generation "
                   "autoscaling for aws",
    "image": "red5pro-node-image-us-east-1",
    "version": "0.0.2",
    "targets": {"target": [
        {"role": "origin", "instanceType": "c4.xlarge", "connectionCapacity": "2000"},
        {"role": "edge", "instanceType": "c4.xlarge", "connectionCapacity": "2000"},
    ]},
    "properties": {"property": [{"name": "vmSizeFallbacks",
                                 "value": ["m4.xlarge", "c4.4xlarge"]}]},
    "metadata": {"meta": [{"key": "meta-name", "value": "meta-value"}]},
}
FLAT_V2 = {
    "name": "flat-policy-1o-1e",
    "description": "one origin, one edge",
    "type": "com.red5pro.services.autoscaling.model.ScalePolicyMaster",
    "version": "0.0.2",
    "targets": {"target": [
        {"role": "origin", "minLimit": 1, "maxLimit": 1, "scaleAdjustment": 1},
        {"role": "edge", "minLimit": 1, "maxLimit": 2, "scaleAdjustment": 1},
    ]},
}
# As the 3.1 docs' example create answer gives it: connectionCapacity a number.
NUMERIC = {**cloud.seed_launch_config(cloud.SEED_GROUPS[0]), "name": "numbers-3-1",
           "targets": {"target": [{"role": "origin", "instanceType": "c5.large",
                                   "connectionCapacity": 2000}]}}


def test_bodies_in_api_3_shapes_are_warned_of_when_the_new_api_is_4_0() -> None:
    """Facts audit 57b, M2: recreate re-posts 3.x bodies to 4.0 as they are,
    and no source says 4.0 takes a 0.0.2 body, flat policy targets or a list
    as a property value. One line per kind, naming the bodies; nothing for a
    3.1 target or for bodies in 4.0's shape. A number as connectionCapacity
    is no such shape: the 4.0 docs' update example sends numbers and is
    answered 200 (facts audit 58b F3: a false alarm on every real 6.2 fleet)."""
    from steps.prepare import unconfirmed_on_api_4

    seeded = cloud.SEED_GROUPS[0]
    saved = {"api_version": "3.0", "nodegroups": [],
             "launchconfigs": {"aws-default-v2": SAMPLE_V2, "numbers-3-1": NUMERIC,
                               seeded.launch_config: cloud.seed_launch_config(seeded)},
             "scalepolicies": {"flat-policy-1o-1e": FLAT_V2,
                               seeded.scale_policy: cloud.seed_scale_policy(seeded)}}
    lines = unconfirmed_on_api_4(saved, "4.0")
    assert len(lines) == 3, lines
    assert all(line.startswith("warning: ") and "no source confirms API 4.0" in line
               for line in lines), lines
    version, flat, values = lines
    assert "launch config aws-default-v2" in version and "scale policy flat-policy-1o-1e" \
        in version and "0.0.2" in version, version
    assert "flat-policy-1o-1e" in flat and "targets.target" in flat, flat
    assert "aws-default-v2" in values and "vmSizeFallbacks" in values, values
    for line in lines:
        assert seeded.launch_config not in line and seeded.scale_policy not in line, line
        assert "numbers-3-1" not in line and "connectionCapacity" not in line, line
    assert unconfirmed_on_api_4(saved, "3.1") == []
    assert unconfirmed_on_api_4(saved, None) == []
    # Read from 4.0 already: that release holds them, and 3.x is not in the way.
    assert unconfirmed_on_api_4({**saved, "api_version": "4.0"}, "4.0") == []


async def test_export_warns_of_a_0_0_2_body_going_to_api_4_0_and_the_report_keeps_it(
        tmp_path: Path) -> None:
    """The 6.2-to-11.1 rehearsal, its live fleet given Red5's 5.1.1 sample
    launch config and a 0.0.2 flat policy before export-config: the warning
    is said ahead of the window and kept among the report's warnings."""
    from runbook import report

    async with rehearsal_host(tmp_path) as host:
        async with httpx.AsyncClient(base_url=host.api_base_url) as client:
            for path, body in (("launchconfig", {"launchconfig": SAMPLE_V2}),
                               ("scalepolicy", {"policy": FLAT_V2})):
                response = await client.post(
                    f"/streammanager/api/3.1/admin/configurations/{path}", json=body,
                    params={"accessToken": host.api_token})
                assert response.status_code == 201, response.text
        front = ScriptedFrontEnd({"upload": STOP})
        journal = tmp_path / "run.jsonl"
        assert await rehearse(host, front, journal) is Outcome.STOPPED
    said = [line for step, stream, line in front.lines
            if step == "export-config" and stream == "info" and "API 4.0" in line]
    assert len(said) == 3, said  # version, flat targets, a list as a value
    assert all(line.startswith("warning: ") for line in said), said
    warned = [note.text for note in report.build(journal).warnings
              if note.step == "export-config"]
    assert set(said) <= set(warned), warned


def test_a_reexport_after_the_clock_stepped_back_is_the_one_the_cutover_keeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 57c, M1: the cutover's record named its run's newest snapshot by
    the wall-clock time each was taken: a re-export in the same run after the
    clock stepped back left the first, older fleet named, which delete-
    nodegroups had not gone by. The last one written is the run's."""
    from runbook import hoststate

    state = HostState(tmp_path / "state", "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    times = iter(["2026-12-07T10:00:00.000+00:00",   # first export (the clock a day fast)
                  "2026-12-06T10:00:00.000+00:00",   # re-export, the clock stepped back
                  "2026-12-06T10:05:00.000+00:00"])  # the first DELETE
    monkeypatch.setattr(hoststate, "_now", lambda: next(times))
    state.save_snapshot({"nodegroups": [{"name": "old-fleet"}]}, journal=journal)
    second = state.save_snapshot({"nodegroups": [{"name": "fleet-now"}]}, journal=journal)
    state.begin_cutover(journal)
    pinned = state.before_cutover()
    assert pinned is not None and pinned.path == second.path, pinned


def _reads_of(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every state file hoststate reads from now on (its one reader, wrapped:
    it still reads)."""
    from runbook import hoststate

    read: list[Path] = []
    real = hoststate._read

    def counted(path: Path, *args: str) -> dict[str, object]:
        read.append(path)
        return real(path, *args)

    monkeypatch.setattr(hoststate, "_read", counted)
    return read


def test_saving_a_snapshot_and_beginning_the_cutover_read_no_other_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """begin_cutover runs at the first cutover action, in the downtime, and it
    and save_snapshot read every snapshot file of the host to find the run's
    last one and the next sequence: a host with many earlier attempts paid
    for each, there. One read of the host's pointer to its last snapshot does."""
    state = HostState(tmp_path / "state", "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    for n in range(30):
        state.save_snapshot({"nodegroups": [{"name": f"attempt-{n}"}]},
                            journal=tmp_path / f"earlier-{n}.jsonl")
    read = _reads_of(monkeypatch)
    tonight = state.save_snapshot({"nodegroups": [{"name": "tonight"}]}, journal=journal)
    assert len(read) <= 1, read
    assert tonight.data["seq"] == 31
    read.clear()
    began = state.begin_cutover(journal)
    assert began.snapshot == str(tonight.path)
    assert len(read) <= 1, read


def test_a_kill_between_the_snapshot_and_its_pointer_loses_no_snapshot(tmp_path: Path) -> None:
    """The pointer is written after the snapshot: a run killed between the two
    leaves a snapshot the pointer does not name. The cutover still goes by
    it, and the next snapshot still comes after it."""
    import subprocess
    import sys
    import textwrap

    root, journal = tmp_path / "state", tmp_path / "run.jsonl"
    state = HostState(root, "sm.example", 22)
    state.save_snapshot({"nodegroups": [{"name": "yesterday"}]}, journal=journal)
    # Killed outright (SIGKILL) as it writes the pointer, in a process of its own.
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from runbook import hoststate
        real = hoststate.atomic_write
        def write(path, data, **kw):
            if Path(path).name == "last-snapshot.json":
                os.kill(os.getpid(), signal.SIGKILL)
            real(path, data, **kw)
        hoststate.atomic_write = write
        hoststate.HostState(Path({str(root)!r}), "sm.example", 22).save_snapshot(
            {{"nodegroups": [{{"name": "tonight"}}]}}, journal=Path({str(journal)!r}))
    """)], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    (tonight,) = [s for s in state.snapshots() if s.nodegroups == [{"name": "tonight"}]]
    assert state.begin_cutover(journal).snapshot == str(tonight.path)
    pinned = state.before_cutover()
    assert pinned is not None and pinned.path == tonight.path, pinned
    later = state.save_snapshot({"nodegroups": []}, journal=tmp_path / "later.jsonl")
    assert later.data["seq"] == tonight.data["seq"] + 1 == 3


def test_a_snapshot_gone_since_the_pointer_named_it_is_not_what_the_cutover_goes_by(
        tmp_path: Path) -> None:
    """The pointer names the run's last snapshot; moved aside since, the
    cutover's record must not name it, and a record naming a snapshot that
    is gone rebuilds from none rather than another fleet."""
    state = HostState(tmp_path / "state", "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    first = state.save_snapshot({"nodegroups": [{"name": "first"}]}, journal=journal)
    second = state.save_snapshot({"nodegroups": [{"name": "second"}]}, journal=journal)
    second.path.unlink()
    began = state.begin_cutover(journal)
    assert began.snapshot == str(first.path), began
    first.path.unlink()
    assert state.before_cutover() is None


async def test_the_cutover_names_the_snapshot_the_run_deletes_by(tmp_path: Path) -> None:
    """Review 58a, M2: a re-export saved B and was cut off before the facts
    named it; the fleet was back as A had it, so the resumed export-config
    kept A, and delete-nodegroups deleted by A. The first cutover action's
    record named the journal's last snapshot, B: recreate and the way back
    rebuilt a fleet the delete had not gone by."""
    from runbook.journal import Journal
    from runbook.model import Phase
    from runbook.redact import Redactor
    from steps.common import snapshot
    from steps.facts import Red5Facts
    from tests.test_executor import SETTINGS, Remote, Say, _no_api

    journal = tmp_path / "run.jsonl"
    host = HostState(tmp_path, "sm", 22)
    a = host.save_snapshot({"api_version": "4.0", "nodegroups": [{"name": "a"}]},
                           journal=journal)
    host.save_snapshot({"api_version": "4.0", "nodegroups": [{"name": "b"}]}, journal=journal)
    facts = Red5Facts()
    facts.snapshot = str(a.path)
    from runbook.executor import Executor

    # Stopped at the second cutover step: the cutover is under way.
    steps = [Say("cut", phase=Phase.CUTOVER, changes=True),
             Say("recreate", phase=Phase.CUTOVER, changes=True)]
    executor = Executor(steps, settings=SETTINGS,  # type: ignore[arg-type]
                        facts=facts, remote=Remote(SETTINGS.host), api_factory=_no_api,
                        curl=lambda *a, **k: "curl", journal=Journal(journal),
                        front=ScriptedFrontEnd({"recreate": Decision(Answer.STOP)}),
                        redactor=Redactor([]), host_state=host)
    try:
        assert await executor.run() is Outcome.STOPPED
    finally:
        executor.journal.close()
    assert host.cutover() is not None
    used = snapshot(executor.plan_context())
    assert used is not None and used.path == a.path, (used, a.path)


def test_two_snapshots_taken_in_the_same_millisecond_are_both_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 58a, L6: a snapshot's file was named by the millisecond it was
    taken, so a second one in the same millisecond replaced the first."""
    from runbook import hoststate

    monkeypatch.setattr(hoststate, "_now", lambda: "2026-12-07T10:00:00.000+00:00")
    state = HostState(tmp_path / "state", "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    first = state.save_snapshot({"nodegroups": [{"name": "a"}]}, journal=journal)
    second = state.save_snapshot({"nodegroups": [{"name": "b"}]}, journal=journal)
    assert first.path != second.path
    assert [s.data["nodegroups"][0]["name"] for s in state.snapshots()] == ["a", "b"]


def _moved(old: Path, new: Path) -> HostState:
    """The state folder `old` moved to `new` (another HOME, another machine),
    as the same host's record."""
    import shutil

    new.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(old), str(new))
    return HostState(new, "sm.example", 22)


def test_a_moved_state_folder_still_finds_the_snapshot_its_cutover_names(
        tmp_path: Path) -> None:
    """Review 58a, L7: the cutover's record named its snapshot by absolute
    path; once the state folder was moved mid-cutover, none was found there,
    though the file was in this host's snapshots folder under the same name:
    export-config said to put it back, recreate had nothing to rebuild from."""
    old = tmp_path / "home-a" / "state"
    state = HostState(old, "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    state.save_snapshot({"nodegroups": [{"name": "earlier"}]}, journal=tmp_path / "other.jsonl")
    state.save_snapshot({"nodegroups": [{"name": "tonight"}]}, journal=journal)
    state.begin_cutover(journal)
    moved = _moved(old, tmp_path / "home-b" / "state")
    pinned = moved.before_cutover()
    assert pinned is not None and pinned.nodegroups == [{"name": "tonight"}], pinned
    assert pinned.path.is_file() and moved.path in pinned.path.parents, pinned.path


def test_a_snapshot_gone_from_both_places_is_named_where_this_host_keeps_it(
        tmp_path: Path) -> None:
    """Moved, and the snapshot then gone: none is made up, and the file to put
    back is named where this host keeps its snapshots now (export-config and
    recreate say it)."""
    old = tmp_path / "home-a" / "state"
    state = HostState(old, "sm.example", 22)
    journal = tmp_path / "run.jsonl"
    taken = state.save_snapshot({"nodegroups": [{"name": "tonight"}]}, journal=journal)
    state.begin_cutover(journal)
    assert state.snapshot_missing() is None
    moved = _moved(old, tmp_path / "home-b" / "state")
    pinned = moved.before_cutover()
    assert pinned is not None and pinned.nodegroups == [{"name": "tonight"}], pinned
    assert moved.snapshot_missing() is None
    pinned.path.unlink()
    assert moved.before_cutover() is None
    assert moved.snapshot_missing() == moved.path / "snapshots" / taken.path.name


async def test_an_export_of_no_nodegroups_warns_and_delete_nodegroups_plans_none(
        tmp_path: Path) -> None:
    """Trial 60 F5/F7: a run that took over another run's half-done cutover
    (its nodegroups deleted) saved a snapshot of no nodegroups, unsaid, and
    found delete-nodegroups done: nothing told the operator the fleet was
    gone. export-config warns before the snapshot is kept, and
    delete-nodegroups' plan says it deletes none, where no cutover is on
    record here."""
    from runbook.step import PlanContext
    from steps.cutover import DELETES_NONE, DeleteNodegroups
    from steps.facts import Red5Facts
    from steps.prepare import NO_FLEET

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        groups = cloud.list_nodegroups(host.sandbox, *host.old_db)
        assert groups
        async with httpx.AsyncClient(base_url=host.api_base_url) as client:
            for group in groups:  # what another run's delete-nodegroups leaves
                response = await client.delete(
                    f"/streammanager/api/3.1/admin/nodegroup/{group['name']}",
                    params={"accessToken": host.api_token})
                assert response.status_code == 200
        await until(lambda: not cloud.list_nodegroups(host.sandbox, *host.old_db),
                    what="the deleted groups to go")
        front = ScriptedFrontEnd({"upload": STOP})
        assert await rehearse(host, front, journal) is Outcome.STOPPED
        state = state_of(host)
        plan = DeleteNodegroups().plan(PlanContext(
            rehearsal_settings(host), lambda *a, **k: "curl", Red5Facts(), state, journal))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    said = [n for n, r in enumerate(records) if r.get("step") == "export-config"
            and NO_FLEET in json.dumps(r)]
    kept = [n for n, r in enumerate(records) if r.get("kind") == "snapshot"]
    assert said and kept and said[0] < kept[0], front.text()[-3000:]
    assert any(isinstance(a, Note) and a.text == DELETES_NONE for a in plan), plan


@pytest.mark.parametrize(("heard", "live", "shown"), [
    ("4.0", None, False), (None, "11.1.0.b835", False),
    ("3.1", None, True), (None, "6.2.0.b406", True), (None, None, True)])
def test_export_configs_plan_shows_the_alarm_reads_only_where_they_are_sent(
        heard: str | None, live: str | None, shown: bool) -> None:
    """Facts audit 61 follow-up: export-config reads each role's scale-out
    alarm threshold where the live API is 3.x only (the 4.0 docs show only
    the POST), yet its plan listed the GET for a 4.0 live too: the operator
    confirmed a call that was never sent. The API preflight heard decides,
    else Red5's table for the live release; where neither is known yet
    (`runbook plan`), the plan keeps the GET with its condition."""
    from runbook.config import load
    from runbook.model import ApiCall
    from runbook.smapi import SCALEOUT_ALARM
    from runbook.step import PlanContext
    from steps.facts import Red5Facts
    from steps.prepare import ExportConfig

    settings = load(Path(__file__).parents[1] / "sample-configs/production.example.toml")
    facts = Red5Facts(api_version=heard, live_version=live)
    plan = ExportConfig().plan(PlanContext(settings, lambda *a, **k: "", facts))
    alarm = [action for action in plan if isinstance(action, ApiCall)
             and SCALEOUT_ALARM in action.path]
    assert bool(alarm) is shown, alarm
    if alarm and (heard or live):
        assert "where the live API is 3.x" not in alarm[0].why, alarm
