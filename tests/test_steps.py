"""Steps against the rehearsal host when things are not as they should be.

Each test runs the real steps over real SSH, breaks one thing on the fake host
or in the config, and checks that the step stops with a reason an operator can
act on, and that nothing after it ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runbook.executor import Answer, Decision, Outcome
from runbook.journal_replay import replay
from runbook.model import Action, Phase, StepReport, StepState
from runbook.rehearsal import databases
from runbook.rehearsal.host import RehearsalHost
from runbook.session import Session
from steps import procedure
from steps.facts import Red5Facts
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse
from tests.scripted import ScriptedFrontEnd
from tests.test_plan_is_what_runs import unplanned

README = Path(__file__).resolve().parents[1] / "README.md"


def step_ids(phase: Phase | None = None) -> list[str]:
    """The procedure's step ids in order, all of them or one phase's."""
    return [step.id for step in procedure() if phase is None or step.phase is phase]


def step_ids_through(last: str) -> list[str]:
    """The procedure's step ids from the first up to and including ``last``."""
    ids = step_ids()
    return ids[: ids.index(last) + 1]


def test_the_procedure_is_the_one_the_readme_documents() -> None:
    """The README's step table is what an operator reads before a run: the
    procedure must have the same steps, in the same order and phases."""
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \| (\w+) \|", README.read_text(), re.MULTILINE)
    assert rows, "README.md has no step table"
    assert [int(n) for n, _, _ in rows] == list(range(1, len(rows) + 1)), "numbered 1, 2, 3..."
    documented = [(step_id, phase) for _, step_id, phase in rows]
    assert [(step.id, step.phase.value) for step in procedure()] == documented


def test_step_ids_are_unique_short_kebab_case_names() -> None:
    # Ids name steps in the journal and in job files on the host: a resume
    # finds a step's history by its id, so a duplicate would merge two steps.
    ids = step_ids()
    assert len(set(ids)) == len(ids), f"duplicate ids: {ids}"
    for step_id in ids:
        assert re.fullmatch(r"[a-z]+(-[a-z]+){0,2}", step_id), f"{step_id!r} is not kebab-case"
        assert len(step_id) <= 20, f"{step_id!r} is too long for a step id"


def test_every_prepare_step_comes_before_cutover() -> None:
    # The executor refuses cutover while a prepare step is unfinished, so a
    # prepare step after a cutover step could never run.
    phases = [step.phase for step in procedure()]
    assert Phase.PREPARE in phases and Phase.CUTOVER in phases
    first_cutover = phases.index(Phase.CUTOVER)
    assert Phase.PREPARE not in phases[first_cutover:], phases


def test_every_step_says_what_it_does() -> None:
    steps = procedure()
    for step in steps:
        assert step.title.strip() and step.summary.strip(), f"{step.id} has no title or summary"
    titles = [step.title for step in steps]
    assert len(set(titles)) == len(titles), f"two steps share a title: {titles}"


async def run_only(host: RehearsalHost, ids: list[str], journal: Path,
                   front: ScriptedFrontEnd, **changes: object) -> tuple[Outcome, Red5Facts]:
    """Run some of the procedure's steps, in order, sharing facts like a real run:
    the session `runbook rehearse` opens, over fewer steps."""
    settings = dataclasses.replace(rehearsal_settings(host), **changes)
    facts = Red5Facts()
    run = Session(settings, [s for s in procedure() if s.id in ids], facts,
                  token=host.api_token, journal_path=journal,
                  state_dir=host.sandbox / ".operator", isolated=True)
    return await run.run(front), facts


def info_of(front: ScriptedFrontEnd, step_id: str) -> list[str]:
    """What the step said as it ran (its info lines, not commands' output)."""
    return [line for step, stream, line in front.lines if step == step_id and stream == "info"]


def detail(front: ScriptedFrontEnd, step_id: str) -> str:
    return [d for sid, _state, d in front.states if sid == step_id][-1]


async def test_new_database_warns_of_fewer_connections_than_the_live_one(
        tmp_path: Path) -> None:
    """Facts audit 61, L8: the procedure asks for the new instance to have the
    live one's configuration, and Red5's database pages raise max_connections
    for the stream manager (3 connections a node); new-database let a new
    instance that allows fewer through without a word."""
    async with rehearsal_host(tmp_path) as host:
        journal = tmp_path / "j.jsonl"
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("new-database"), journal, front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        assert not _notes(journal, "new-database-connections")  # alike: no word
        await host.databases.new.set_max_connections(10)
        journal = tmp_path / "k.jsonl"
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("new-database"), journal, front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
    [said] = _notes(journal, "new-database-connections")
    text = said["text"]
    assert said["warning"] and text.startswith("warning: ") and "\n" not in text, text
    assert "max_connections" in text and " 10 " in text and "151" in text, text
    assert "before the window" in text, text


async def test_unreachable_new_database_stops_before_anything_changes(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids(), tmp_path / "j.jsonl", front,
                                    new_db_port=1)
        assert outcome is Outcome.FAILED
        assert front.final_state("new-database") == "failed"
        assert "127.0.0.3:1 cannot be reached" in detail(front, "new-database")
        assert "export-config" not in front.asked
        assert not list(host.install_dir.glob("red5pro-server-*"))


async def test_properties_without_decisions_lists_the_undecided_keys(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        prepare = step_ids(Phase.PREPARE)
        # Headless: no editor to leave, so no pause (tests/test_properties_step.py).
        outcome, _ = await run_only(host, prepare, tmp_path / "j.jsonl", front, decisions=None,
                                    headless=True)
        assert outcome is Outcome.FAILED
        reason = detail(front, "properties")
        assert "default.server.application" in reason and "decisions" in reason
        new_props = next(host.install_dir.glob("red5pro-server-*")) / (
            "webapps/streammanager/WEB-INF/red5-web.properties")
        assert "config.dbHost={host}" in new_props.read_text(), "nothing may be written"


async def test_properties_run_again_merges_against_the_shipped_template(tmp_path: Path) -> None:
    """Once written, the new file is runbook's merge, not Red5's template: a
    later run (the live file changed since, say) must merge against the
    template as shipped, kept beside it as .runbook-bak (operator trial: the
    earlier merge was read as the template, its live secrets offered as
    Red5's sample values and the decisions called stale)."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        ids = step_ids_through("properties")
        outcome, _ = await run_only(host, ids, tmp_path / "a.jsonl", ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        shipped = Path(f"{new}.runbook-bak").read_bytes()
        # Rotated on the live install after the prepare steps, before the window.
        live.write_text(re.sub(r"(?m)^cluster\.password=.*$", "cluster.password=Rotated-77",
                               live.read_text(encoding="latin-1")), encoding="latin-1")

        again = ScriptedFrontEnd()
        outcome, facts = await run_only(host, ["preflight", "properties"],
                                        tmp_path / "b.jsonl", again)
        assert outcome is Outcome.DONE, detail(again, "properties")
        assert "cluster.password=Rotated-77" in new.read_text(encoding="latin-1")
        # The review names the template it read (the TUI's header, its errors).
        assert facts.scratch.properties_review is not None
        assert facts.scratch.properties_review.new_name == f"{new}.runbook-bak"
        said = "\n".join(line for step, _, line in again.lines if step == "properties")
        assert "template changed" not in said and "confirmed" not in said, said
        assert Path(f"{new}.runbook-bak").read_bytes() == shipped, "the template stays as shipped"


@pytest.mark.parametrize("name", ["red5-web.properties", "applicationContext.xml"])
async def test_a_file_merged_with_live_values_is_as_private_as_the_live_one(
        tmp_path: Path, name: str) -> None:
    """The merge carries the live file's secrets (the database password, the
    cluster password, the API token; a controller bean's credentials) but
    took the shipped template's mode: a live file only its group could read
    came out 0644 in the new tree, and so for everyone once promoted
    (bad-input trial, stop 47)."""
    import stat

    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / sandbox.WEBINF / name
        live.chmod(0o640)
        owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
        os.chown(live, *owner)  # as root, an account of the service's own (nobody's)
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / name
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
        assert (new.stat().st_uid, new.stat().st_gid) == owner
        # The file as shipped, kept beside it, holds nothing of the live one's.
        assert stat.S_IMODE(Path(f"{new}.runbook-bak").stat().st_mode) == 0o644


@pytest.mark.parametrize("name", ["red5-web.properties", "applicationContext.xml"])
async def test_a_merge_written_more_open_than_the_live_file_is_not_done(
        tmp_path: Path, name: str) -> None:
    """A merge an earlier runbook wrote with the template's 0644 was found
    done by content alone, and promoted as it was (second review, stop 47):
    a file kept otherwise than the live one is written again, as it is."""
    import stat

    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        live = host.red5_home / sandbox.WEBINF / name
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / name
        before = new.read_bytes()
        live.chmod(0o640)  # kept closer since; the merge is still 0644
        again = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "b.jsonl",
                                    again)
        assert outcome is Outcome.DONE
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
        assert new.read_bytes() == before


async def test_a_resume_before_the_cutover_looks_at_carry_over_again(tmp_path: Path) -> None:
    """A resume trusted carry-over as done in the earlier run: the live
    applicationContext.xml kept closer since (0640) left the new tree's copy
    of its controller bean 0644, where properties, which looks again until
    the cutover, wrote its merge again (re-trial, stop 47)."""
    import stat

    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        journal = tmp_path / "j.jsonl"
        first = ScriptedFrontEnd({"schema": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        live = host.red5_home / sandbox.WEBINF / "applicationContext.xml"
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "applicationContext.xml"
        live.chmod(0o640)
        again = ScriptedFrontEnd({"schema": Decision(Answer.STOP)})
        await rehearse(host, again, journal, resume=replay(journal))
        assert stat.S_IMODE(new.stat().st_mode) == 0o640


def _notes(journal: Path, kind: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    return [r for r in records if r["event"] == "note" and r["kind"] == kind]


async def test_carry_over_names_the_hand_edits_it_does_not_carry(tmp_path: Path) -> None:
    """Review 60b, H1: Red5's upgrade page, which the procedure follows, asks
    for one's own edits to conf/red5.properties (SSL), jee-container.xml and
    cluster.xml to be made again in the new tree, and one's own webapps
    copied; runbook carried only LICENSE.KEY, the controller bean and
    red5-web.properties and said nothing of the rest, so an SSL edit was lost
    at the cutover unseen."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "conf" / "red5.properties"
        live.write_text(re.sub(r"(?m)^https\.port=.*$", "https.port=443", live.read_text()))
        (host.red5_home / "webapps" / "myapp" / "WEB-INF").mkdir(parents=True)
        journal = tmp_path / "j.jsonl"
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("carry-over"), journal, front)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        new = next(host.install_dir.glob("red5pro-server-*"))
        # Named, not copied.
        assert (new / "conf" / "red5.properties").read_text() != live.read_text()
        assert not (new / "webapps" / "myapp").exists()
        edits = _notes(journal, "edits-to-redo")
        assert len(edits) == 1 and edits[0]["warning"], edits
        text = edits[0]["text"]
        assert text.startswith("warning: ") and "\n" not in text, text
        assert "conf/red5.properties" in text, text
        assert "cluster.xml" not in text and "jee-container.xml" not in text, text
        assert "release's own changes" in text and "by hand" in text, text
        assert "upgrade page" in text and "before the window" in text, text
        apps = _notes(journal, "webapps-to-copy")
        assert len(apps) == 1 and apps[0]["warning"] and "myapp" in apps[0]["text"], apps
        assert "streammanager" not in apps[0]["text"], apps
        # The rehearsal's base_url is http: no word of HTTPS.
        assert not _notes(journal, "https-at-risk")
        # Shown before carry-over's question.
        said = info_of(front, "carry-over")
        assert any("conf/red5.properties" in line for line in said), said


_CORS = """<filter>
<filter-name>CorsFilter</filter-name>
<filter-class>org.apache.catalina.filters.CorsFilter</filter-class>
</filter>
<filter-mapping>
<filter-name>CorsFilter</filter-name>
<url-pattern>/api/*</url-pattern>
</filter-mapping>
"""


async def test_carry_over_names_a_cors_filter_the_new_web_xml_lacks(tmp_path: Path) -> None:
    """Facts audit 61, M2: Red5's CORS page has the operator add a CorsFilter
    to the streammanager webapp's web.xml, and Red5's installer adds one; the
    release's web.xml has none (5.1.1, 6.2.0) or only inside a comment, so at
    the cutover browser pages on other sites lost the API, and carry-over
    said nothing of it."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "webapps/streammanager/WEB-INF/web.xml"
        live.write_text(live.read_text().replace("</web-app>", _CORS + "</web-app>"))

        def comment_one_in(step: StepReport, _plan: list[Action]) -> None:
            if step.id == "cloud-controller":  # unpack is done: a shipped one, commented
                new = next(host.install_dir.glob("red5pro-server-*"))
                fresh = new / "webapps/streammanager/WEB-INF/web.xml"
                fresh.write_text(fresh.read_text().replace(
                    "</web-app>", f"<!-- uncomment to add CorsFilter {_CORS} -->\n</web-app>"))

        journal = tmp_path / "j.jsonl"
        front = ScriptedFrontEnd(on_confirm=comment_one_in)
        outcome, _ = await run_only(host, step_ids_through("carry-over"), journal, front)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        new = next(host.install_dir.glob("red5pro-server-*"))
        # Named, not copied.
        assert "<!-- uncomment" in (new / "webapps/streammanager/WEB-INF/web.xml").read_text()
    [cors] = _notes(journal, "cors-to-redo")
    text = cors["text"]
    assert cors["warning"] and text.startswith("warning: ") and "\n" not in text, text
    assert "webapps/streammanager/WEB-INF/web.xml" in text and "CorsFilter" in text, text
    assert "by hand" in text and "before the window" in text, text


async def test_carry_over_says_nothing_where_the_named_files_are_alike(tmp_path: Path) -> None:
    """The other side of H1: files alike and no webapp of one's own, no word."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "conf" / "red5.properties"

        def make_alike(step: StepReport, _plan: list[Action]) -> None:
            if step.id == "cloud-controller":  # unpack is done
                new = next(host.install_dir.glob("red5pro-server-*"))
                shutil.copyfile(live, new / "conf" / "red5.properties")
                # The live CorsFilter made again in the new tree (M2).
                web_xml = "webapps/streammanager/WEB-INF/web.xml"
                shutil.copyfile(host.red5_home / web_xml, new / web_xml)

        journal = tmp_path / "j.jsonl"
        front = ScriptedFrontEnd(on_confirm=make_alike)
        outcome, _ = await run_only(host, step_ids_through("carry-over"), journal, front)
        assert outcome is Outcome.DONE, front.text()[-3000:]
        assert not _notes(journal, "edits-to-redo")
        assert not _notes(journal, "webapps-to-copy")
        assert not _notes(journal, "cors-to-redo")


def test_an_https_base_url_names_the_risk_of_a_red5_properties_left_behind() -> None:
    """H1, the harm: start-service reaches the API by [api] base_url; with an
    https one and the live red5.properties (where SSL is set) not redone, the
    new release never answers it, inside the downtime. Said from what the
    look found (an https stream manager API cannot run here)."""
    from steps.prepare import not_carried_said

    https = "https://sm.example.com/streammanager"
    said = dict(not_carried_said(["conf/red5.properties"], [], [], https))
    assert "https-at-risk" in said, said
    risk = said["https-at-risk"]
    assert risk.startswith("warning: ") and https in risk and "start-service" in risk, risk
    assert "downtime" in risk, risk
    # Only red5.properties holds the SSL settings from 14 on; before, both.
    assert "https-at-risk" not in dict(not_carried_said(["conf/cluster.xml"], [], [], https))
    assert "https-at-risk" not in dict(
        not_carried_said(["conf/red5.properties"], [], [], "http://10.0.0.5:5080"))
    # A file the new tree lacks is named as lacking.
    lacking = dict(not_carried_said([], ["conf/jee-container.xml"], [], https))
    assert "conf/jee-container.xml" in lacking["edits-to-redo"], lacking


@pytest.mark.skipif(shutil.which("setfacl") is None, reason="needs setfacl (the acl package)")
async def test_the_merge_keeps_the_access_list_the_service_reads_the_live_file_by(
        tmp_path: Path) -> None:
    """Given the live file's mode bits alone, a live file the service reads
    through an access list (0640 root:root, user:red5 r) came out readable by
    root only: found when the new server started, in the downtime (second
    review, stop 47)."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        live.chmod(0o640)
        subprocess.run(["setfacl", "-m", "u:nobody:r", str(live)], check=True)
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        acl = subprocess.run(["getfacl", "-p", "--skip-base", str(new)], capture_output=True,
                             text=True, check=True).stdout
        assert "user:nobody:r--" in acl, acl


@pytest.mark.parametrize("edited", ["live", "template", "decisions"])
async def test_properties_writes_nothing_when_a_file_changed_after_its_plan(
        tmp_path: Path, edited: str) -> None:
    """The merge is read when the plan is shown; a live file, template or
    decisions file edited (in another shell) while the question waits must not
    be written over with the merge of before (operator trial: the stale merge
    was written, then verify failed with 'not the reviewed merge' and nothing
    said why)."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        assert settings.decisions is not None
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        changed: list[Path] = []

        def edit_a_file(step: StepReport, _plan: list[Action]) -> None:
            if step.id != "properties":
                return
            new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
                "red5-web.properties"
            path = {"live": live, "template": new, "decisions": settings.decisions}[edited]
            assert path is not None
            changed.append(path)
            if edited == "decisions":
                with path.open("a") as file:
                    file.write('\n[keys."instancecontroller.newNodePingTimeThreshold"]\n'
                               'action = "set"\nvalue = "99000"\n')
                return
            path.write_text(re.sub(r"(?m)^cluster\.password=.*$",
                                   "cluster.password=Changed-After-Plan-55",
                                   path.read_text(encoding="latin-1")), encoding="latin-1")

        front = ScriptedFrontEnd(on_confirm=edit_a_file)
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "j.jsonl",
                                    front)
        assert outcome is Outcome.FAILED
        reason = detail(front, "properties")
        assert f"{changed[0]} changed after the step's plan was made" in reason, reason
        assert "nothing was written" in reason and "again" in reason, reason
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        assert "config.dbHost={host}" in new.read_text(), "the template stays as it was"
        assert not Path(f"{new}.runbook-bak").exists()


async def test_properties_writes_nothing_over_a_merged_file_edited_after_its_plan(
        tmp_path: Path) -> None:
    """Run again, the step reads the template from the copy kept beside the
    merged file, so a hand fix made to the merged file while the question
    waited went unseen and was written over (left from the trial)."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        # Rotated since, so the step has a merge to write again.
        live.write_text(re.sub(r"(?m)^cluster\.password=.*$", "cluster.password=Rotated-77",
                               live.read_text(encoding="latin-1")), encoding="latin-1")

        def fix_by_hand(step: StepReport, _plan: list[Action]) -> None:
            if step.id == "properties":
                new.write_text(re.sub(r"(?m)^(instancecontroller\.newNodePingTimeThreshold)=.*$",
                                      r"\1=1", new.read_text(encoding="latin-1")),
                               encoding="latin-1")

        again = ScriptedFrontEnd(on_confirm=fix_by_hand)
        outcome, _ = await run_only(host, ["preflight", "properties"], tmp_path / "b.jsonl",
                                    again)
        assert outcome is Outcome.FAILED
        reason = detail(again, "properties")
        assert f"{new} changed after the step's plan was made" in reason, reason
        text = new.read_text(encoding="latin-1")
        assert "instancecontroller.newNodePingTimeThreshold=1\n" in text, "the fix stays"
        assert "Rotated-77" not in text


async def test_properties_says_a_decision_for_a_key_neither_file_has(tmp_path: Path) -> None:
    """A misspelt key in the decisions file decides nothing: said in the run,
    with the key meant, as `runbook diff` says it (operator trial: silent)."""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        assert settings.decisions is not None
        with settings.decisions.open("a") as decisions:
            decisions.write('\n[keys."config.dbUsr"]\naction = "set"\nvalue = "newuser"\n')
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "j.jsonl",
                                    front)
        assert outcome is Outcome.DONE, detail(front, "properties")
    # A line of its own, not only deep in the review the step shows.
    said = [line for step, _, line in front.lines
            if step == "properties" and line.startswith(f"{settings.decisions}: ")]
    assert len(said) == 1 and "config.dbUsr (did you mean config.dbUser?)" in said[0], said


async def test_properties_decided_in_the_editor_without_a_decisions_file_is_done(
        tmp_path: Path) -> None:
    """Review: with no decisions file, the keys decided in the editor live in
    the review the step wrote; verify rebuilt the merge from the template as
    shipped without them, called the file 'not the reviewed merge', and every
    retry asked the same keys again."""
    from pathlib import PurePath

    from runbook.properties import Review
    from runbook.rehearsal import sandbox

    class DecidesInTheEditor(ScriptedFrontEnd):
        async def review(self, step_id: str, review: Review, *,
                         decisions_path: PurePath | None) -> bool:
            for key in review.open_keys:
                review.set_value(key, "decided-in-the-editor")
            return True

    async with rehearsal_host(tmp_path) as host:
        front = DecidesInTheEditor()
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "j.jsonl",
                                    front, decisions=None)
        assert outcome is Outcome.DONE, detail(front, "properties")
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        assert "=decided-in-the-editor" in new.read_text(encoding="latin-1")


@pytest.mark.parametrize("kept", ["file", "directory", "none"])
def test_the_template_as_it_was_is_the_kept_copy_or_the_file(tmp_path: Path,
                                                               kept: str) -> None:
    """Review: a `.runbook-bak` that is not a file (a directory) was passed by
    and the merge read in its place, which is the bug the copy is there to
    stop: it fails loudly instead."""
    import base64
    from types import SimpleNamespace

    from steps.common import read_as_it_was_command

    target = tmp_path / "it's $(odd) dir" / "red5-web.properties"
    target.parent.mkdir()
    target.write_text("the merge\n")
    copy = Path(f"{target}.runbook-bak")
    if kept == "file":
        copy.write_text("as shipped\n")
    elif kept == "directory":
        copy.mkdir()
    plan = SimpleNamespace(settings=SimpleNamespace(host=SimpleNamespace(sudo=False)))
    done = subprocess.run(["bash", "-c", read_as_it_was_command(plan, str(target))],  # type: ignore[arg-type]
                          capture_output=True, text=True)
    if kept == "directory":
        assert done.returncode != 0 and done.stdout == "", done.stdout
        return
    assert done.returncode == 0, done.stderr
    assert base64.b64decode(done.stdout) == (b"as shipped\n" if kept == "file"
                                             else b"the merge\n")


@pytest.mark.parametrize(("edited", "said"), [("merge", "writes the merge over it"),
                                               ("live", "live file")])
async def test_properties_names_the_keys_a_hand_edit_changed_before_writing_over_it(
        tmp_path: Path, edited: str, said: str) -> None:
    """Review: a value fixed by hand in the merged file, then the step run
    again, read only "not the reviewed merge": confirming wrote over the fix
    without a word of which key it was. Operator trial (stop 46): after a live
    value changed instead, those words read as a hand edit of the merge, with
    no word that the live file, which the merge is made from, may have."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        tree = next(host.install_dir.glob("red5pro-server-*")) if edited == "merge" \
            else host.install_dir / "red5pro"
        changed = tree / sandbox.WEBINF / "red5-web.properties"
        changed.write_text(re.sub(r"(?m)^(instancecontroller\.newNodePingTimeThreshold)=.*$",
                                  r"\1=7", changed.read_text(encoding="latin-1")),
                           encoding="latin-1")
        again = ScriptedFrontEnd({"properties": Decision(Answer.STOP)})
        await run_only(host, ["preflight", "properties"], tmp_path / "b.jsonl", again)
    lines = [line for step, _, line in again.lines if step == "properties"]
    assert any("differs in instancecontroller.newNodePingTimeThreshold" in line
               and said in line for line in lines), lines


async def test_properties_finds_a_merge_an_older_runbook_spelled_otherwise_done(
        tmp_path: Path) -> None:
    """Stop 50's change writes a carried value as the live file spells it
    (sg#1:a), where runbook wrote it escaped before (sg\\#1\\:a): Java reads
    both as one value. A merged file an older runbook wrote read as "not the
    merge ... changed since it was written" on the next run or resume, and
    was offered to be written again, though nothing in it had changed."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        live.write_text(re.sub(r"(?m)^aws\.ec2SecurityGroup=.*$", "aws.ec2SecurityGroup=sg#1:a",
                               live.read_text(encoding="latin-1")), encoding="latin-1")
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    ScriptedFrontEnd())
        assert outcome is Outcome.DONE
        merged = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        text = merged.read_text(encoding="latin-1")
        assert "\naws.ec2SecurityGroup=sg#1:a\n" in text
        # As the runbook before stop 50 wrote it: every rewritten value escaped.
        merged.write_text(text.replace("aws.ec2SecurityGroup=sg#1:a",
                                       "aws.ec2SecurityGroup=sg\\#1\\:a"), encoding="latin-1")

        again = ScriptedFrontEnd({"properties": Decision(Answer.STOP)})
        outcome, _ = await run_only(host, ["preflight", "properties"], tmp_path / "b.jsonl",
                                    again)
    said = info_of(again, "properties")
    assert "properties" not in again.asked, said
    assert outcome is Outcome.DONE, said
    assert not any("changed since it was written" in line for line in said), said


async def test_unpack_again_over_the_tree_leaves_no_kept_copy_of_the_zip_before(
        tmp_path: Path) -> None:
    """Review: a zip sent again (a corrected download of the same name) is
    unzipped over the tree (its id typed), and the .runbook-bak copies the earlier files
    left stayed: properties then merged against the template of the zip
    before, as if shipped, and wrote over the new one."""
    import os
    import time

    from runbook.rehearsal import sandbox
    from steps.common import uploaded

    typed: list[bool] = []  # whether each unpack asked for its id

    class Operator(ScriptedFrontEnd):
        async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
            if step.id == "unpack":
                typed.append(step.destructive_now)
            return await super().confirm(step, plan)

    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "a.jsonl",
                                    Operator())
        assert outcome is Outcome.DONE
        new = next(host.install_dir.glob("red5pro-server-*")) / sandbox.WEBINF / \
            "red5-web.properties"
        kept = Path(f"{new}.runbook-bak")
        # The template of the zip before, which the corrected one no longer has.
        kept.write_bytes(kept.read_bytes() + b"only.in.the.zip.before=1\n")
        # Sent again since it was unzipped: the zip is newer than unzip's marker.
        earlier = time.time() - 60
        os.utime(uploaded(settings, settings.distribution) + ".unpacked", (earlier, earlier))
        front = Operator()
        outcome, _ = await run_only(host, ["preflight", "unpack", "properties"],
                                    tmp_path / "b.jsonl", front)
        assert outcome is Outcome.DONE, front.states
        assert "only.in.the.zip.before" not in new.read_text(encoding="latin-1")
    # Over the tree it deletes runbook's copies and unzips over what the
    # steps after it made: its id, as for any step that deletes (trial).
    assert typed == [False, True]


async def test_delete_nodegroups_refuses_without_a_snapshot(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["delete-nodegroups"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.FAILED
        assert "no snapshot" in detail(front, "delete-nodegroups")
        assert front.asked == [], "it must refuse before asking"
        from runbook.rehearsal import cloud

        assert cloud.list_nodegroups(host.sandbox, *host.old_db), "the live groups stay"


async def test_upload_is_skipped_when_the_files_are_already_there(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd()
        ids = ["preflight", "upload"]
        outcome, _ = await run_only(host, ids, tmp_path / "a.jsonl", first)
        assert outcome is Outcome.DONE and first.asked == ids
        again = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ids, tmp_path / "b.jsonl", again)
        assert outcome is Outcome.DONE
        assert again.asked == ["preflight"], "upload's check finds both files in place"
        assert "already done" in detail(again, "upload")


async def test_upload_refuses_a_folder_other_accounts_can_write(tmp_path: Path) -> None:
    """Review (stop 45): mkdir -m 700 sets the mode only of a folder it makes;
    one already there, the SSH user's but writable by all, passed as "a folder
    only we can write", and another account could swap the zip between its
    checksum and the unzip that runs as root."""
    async with rehearsal_host(tmp_path) as host:
        folder = host.sandbox / "tmp/runbook-upload"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "a.jsonl", front)
        assert outcome is Outcome.FAILED
        said = detail(front, "upload")
        assert "other accounts can write" in said and "chmod go-w" in said, said
        assert list(folder.iterdir()) == []  # nothing sent into it
        assert folder.stat().st_mode & 0o777 == 0o777  # and its mode left as it was


async def test_a_distribution_changed_while_it_is_sent_is_not_taken(tmp_path: Path) -> None:
    """Rewritten in place mid-upload (a download still finishing, a copy over
    it), the host gets part old bytes, part new: their sha256 matches the bytes
    sent, so only the file's own record on this machine can tell."""
    import os

    from runbook.events import Event, Progress

    class RewritesMidUpload(ScriptedFrontEnd):
        rewritten = False

        def tell(self, event: Event) -> None:
            super().tell(event)
            if (isinstance(event, Progress) and event.step_id == "upload"
                    and event.total and 0 < event.done < event.total / 4
                    and not self.rewritten):
                with settings.distribution.open("r+b") as zip_file:
                    zip_file.seek(-(16 << 20), os.SEEK_END)
                    zip_file.write(os.urandom(16 << 20))
                self.rewritten = True

    async with rehearsal_host(tmp_path, dist_size=96 << 20) as host:
        settings = rehearsal_settings(host)
        front = RewritesMidUpload()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "j.jsonl", front)
        assert front.rewritten, "the upload was over before the test could change the file"
        assert outcome is Outcome.FAILED
        assert "changed on this machine while it was sent" in detail(front, "upload")


def commands_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command the run sends to the host, in order (they still run)."""
    from runbook.remote import Remote

    sent: list[str] = []
    plain_run = Remote.run

    async def recorded(self, command, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(command)
        return await plain_run(self, command, **kwargs)

    monkeypatch.setattr(Remote, "run", recorded)
    return sent


async def test_the_upload_step_takes_the_hosts_hash_as_the_files_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No second read of a 300 MiB file on the host after it arrived: the
    host hashed it as it landed (issue 12's upload goal)."""
    from runbook.shell import sha256_command
    from steps.common import uploaded

    sent = commands_run(monkeypatch)
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        for local in (settings.distribution, settings.cloud_controller):
            assert (host.upload_dir / local.name).read_bytes() == local.read_bytes()
            assert sha256_command(uploaded(settings, local)) not in sent, local.name
        assert "matches" in front.text()


async def test_a_host_that_stores_other_bytes_fails_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runbook.rehearsal.sshd import SandboxSFTPServer

    plain_write = SandboxSFTPServer.write

    def flips_a_byte(self, file_obj, offset, data):  # type: ignore[no-untyped-def]
        if offset == 0 and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return plain_write(self, file_obj, offset, data)

    monkeypatch.setattr(SandboxSFTPServer, "write", flips_a_byte)
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.FAILED
        assert "arrived with sha256" in detail(front, "upload")


async def test_a_wrong_hash_read_as_the_file_landed_is_looked_at_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hash taken as the file landed only spares the second read when it
    agrees; any other answer (a reader cut short, a host whose head reads
    ahead) is settled by reading the whole file again."""
    import dataclasses as dc

    from runbook.remote import Remote

    plain_upload = Remote.upload

    async def misread(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        got = await plain_upload(self, *args, **kwargs)
        return dc.replace(got, host_sha256="0" * 64)

    monkeypatch.setattr(Remote, "upload", misread)
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        assert "matches" in front.text()


async def test_the_upload_verify_sees_a_file_cut_short_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """verify takes the sha256 the run proved, but only for a file still its
    size on the host: one cut short since fails the step."""
    from steps.prepare import UploadArtifacts

    plain_run = UploadArtifacts.run

    async def then_cut(self, ctx):  # type: ignore[no-untyped-def]
        await plain_run(self, ctx)
        with (host.upload_dir / ctx.settings.distribution.name).open("r+b") as copy:
            copy.truncate(1 << 20)

    monkeypatch.setattr(UploadArtifacts, "run", then_cut)
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "upload"], tmp_path / "j.jsonl", front)
        assert outcome is not Outcome.DONE
        assert front.final_state("upload") != "done"


async def test_preflight_names_the_live_servers_its_plan_says_it_lists(tmp_path: Path) -> None:
    """Review (stop 45): preflight's plan showed the java listing ("the java
    processes running from it"), and the step never ran it."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        said = info_of(front, "preflight")
        assert any(f"pid {host.service_pid()}" in line for line in said), said


async def test_preflight_resumed_mid_cutover_names_no_servers_by_the_old_install(
        tmp_path: Path) -> None:
    """Second review (stop 45): resumed at recreate, preflight said "no java
    process runs from .../red5pro now" while the new release's server ran
    there: it looked for the old install's identity under the live path."""
    async with rehearsal_host(tmp_path) as host:
        journal = tmp_path / "j.jsonl"
        first = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        assert host.service_pid() is not None  # the new release's
        again = ScriptedFrontEnd({"new-database": Decision(Answer.STOP)})
        await rehearse(host, again, journal, resume=replay(journal))
        said = info_of(again, "preflight")
        assert not any("java process runs from" in line or "running from" in line
                       for line in said), said


async def test_preflight_says_what_it_found_of_the_disk_not_only_df(tmp_path: Path) -> None:
    """An operator saw df's table and no verdict: enough room or not?"""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        said = info_of(front, "preflight")
        assert any(re.search(r"MiB free; the new distribution needs about \d+ MiB", line)
                   for line in said), said
        # The rehearsal's distribution is under a MiB: rounded up, not "about 0 MiB".
        assert not any("needs about 0 MiB" in line for line in said), said


async def test_preflight_reads_the_live_release_in_red5_ini_first(tmp_path: Path) -> None:
    """Facts audit 57b (M3): Red5's installer reads an install's release in
    conf/red5.ini's server.version (FACTS-scenarios section 5); preflight read
    only the root marker and lib/red5pro-X.Y.Z.N-RELEASE.jar, which no source
    shows for 10.x-12.x, and stopped, "version is unknown", on a live install
    without a marker whose lib jar has four numbers before its build, as
    12.2.0.2 (FACTS section 4) would name one."""
    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro"
        for marker in live.glob("red5pro-server-*-release"):
            marker.unlink()
        jar = live / "lib" / host.scenario.old.lib_jar
        jar.rename(jar.with_name("red5pro-6.2.0.2.406-RELEASE.jar"))
        assert (live / "conf/red5.ini").read_text() == "server.version=6.2.0.b406-release\n"
        front = ScriptedFrontEnd()
        outcome, facts = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
    assert outcome is Outcome.DONE, front.text()[-2000:]
    assert facts.live_version == "6.2.0.b406"
    assert f"live install: {live}, version 6.2.0.b406" in info_of(front, "preflight")


async def test_preflight_without_the_zip_says_nothing_of_the_room_it_needs(
        tmp_path: Path) -> None:
    """No zip, no size: "needs about 0 MiB" beside "not on this machine"."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        missing = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front,
                                    distribution=missing)
        assert outcome is Outcome.FAILED
        assert "not on this machine" in detail(front, "preflight")
        assert "0 MiB" not in front.text()


@pytest.mark.parametrize("leftover", ["bak.red5pro", "red5pro-server-10.9.2.b735-release"])
async def test_leftovers_of_an_earlier_upgrade_stop_preflight(
    tmp_path: Path, leftover: str
) -> None:
    async with rehearsal_host(tmp_path) as host:
        (host.install_dir / leftover).mkdir()
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids(), tmp_path / "j.jsonl", front)
        assert outcome is Outcome.FAILED
        assert front.asked == ["preflight"]
        assert leftover in detail(front, "preflight")
        from runbook.rehearsal import cloud

        assert cloud.list_nodegroups(host.sandbox, *host.old_db), "nothing was deleted"
        assert (host.install_dir / "red5pro").is_dir()


async def test_a_resumed_run_finds_leftovers_before_its_cutover_too(tmp_path: Path) -> None:
    """Operator trial (stop 46): a bak.red5pro that appeared between a stopped
    run and its resume passed preflight, which looked for leftovers only in a
    new run; backup-live refused it once delete-nodegroups had deleted every
    nodegroup. Until the cutover begins, a resumed run looks too."""
    from runbook.rehearsal import cloud

    async with rehearsal_host(tmp_path) as host:
        journal = tmp_path / "j.jsonl"
        first = ScriptedFrontEnd(answers={"new-database": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        (host.install_dir / "bak.red5pro").mkdir()
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        said = detail(second, "preflight")
        assert outcome is Outcome.FAILED, second.text()[-2000:]
        assert "bak.red5pro already exists" in said, said
        assert cloud.list_nodegroups(host.sandbox, *host.old_db), "nothing was deleted"


async def test_a_second_attempts_unzip_cut_short_is_not_taken_for_the_first_ones(
        tmp_path: Path) -> None:
    """Review: the way back sets the new tree aside and leaves unzip's marker
    beside the zip. A second attempt's unzip, cut short by its time limit,
    left part of a tree, and the marker of the first attempt's unzip (newer
    than the zip) made the check call it unpacked: the cutover would have
    gone ahead on truncated jars."""
    from runbook.rehearsal import scenarios
    from tests.test_rollback import session

    size = 400 << 20
    async with rehearsal_host(tmp_path, dist_size=size) as host:
        first = ScriptedFrontEnd()
        outcome = await session(host, tmp_path / "first.jsonl",
                                rollback_after="promote-new").run(first)
        assert outcome is Outcome.ROLLED_BACK, first.text()[-2000:]
        tree = host.install_dir / scenarios.scenario(scenarios.DEFAULT).new.top
        assert not tree.exists()  # set aside by the way back
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, upload=0.3))
        second = ScriptedFrontEnd(answers={"cloud-controller": Decision(Answer.STOP)})
        await session(host, tmp_path / "second.jsonl", settings=settings).run(second)
    padding = tree / "lib" / "red5pro-bundle-padding.bin"
    assert padding.exists() and padding.stat().st_size < size, "the unzip was not cut short"
    assert second.final_state("unpack") != "done", detail(second, "unpack")


async def test_a_step_that_needs_the_unpacked_tree_says_unpack_was_skipped(
        tmp_path: Path) -> None:
    """Operator trial (stop 46): with unpack skipped, cloud-controller failed
    with cp's own words ("cannot create regular file ... No such file or
    directory"), and no word of the skip that explained them."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd(answers={
            "unpack": Decision(Answer.SKIP, "unzipped by hand"),
            "strip-autoscale": Decision(Answer.STOP)})
        outcome, _ = await run_only(host, step_ids_through("strip-autoscale"),
                                    tmp_path / "j.jsonl", front)
        assert outcome is Outcome.FAILED, front.text()[-2000:]
        said = detail(front, "cloud-controller")
        assert "unpack was skipped (unzipped by hand)" in said, said
        assert "cannot create" not in said, said


async def test_strip_autoscale_removes_the_webrtc_plugin_too(tmp_path: Path) -> None:
    """Facts audit 61, M1: every release ships plugins/red5pro-webrtc-plugin-*
    (AM, AS), Red5's stream manager install pages delete it and its general
    upgrade page removes it from the new distribution; strip-autoscale left
    it in the new tree, unnamed."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("strip-autoscale"),
                                    tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        plugins = next(host.install_dir.glob("red5pro-server-*")) / "plugins"
        assert not list(plugins.glob("red5pro-webrtc-plugin-*")), sorted(plugins.iterdir())
        assert not list(plugins.glob("red5pro-autoscale-plugin-*"))
        assert list(plugins.glob("red5pro-restreamer-plugin-*")), "other plugins stay"
    planned = " ".join(repr(action) for action in front.plans["strip-autoscale"])
    assert "red5pro-webrtc-plugin-" in planned, planned


async def test_promote_moves_only_the_unpacked_folder(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("backup-live"), tmp_path / "a.jsonl",
                                    front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        # A folder that appears after preflight (someone unzipped by hand).
        (host.install_dir / "red5pro-server-10.9.2.b735-release").mkdir()
        again = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["promote-new"], tmp_path / "b.jsonl", again)
        assert outcome is Outcome.FAILED
        reason = detail(again, "promote-new")
        assert "exactly one red5pro-server-*" in reason and "10.9.2" in reason
        assert not (host.install_dir / "red5pro").exists()


async def test_a_finished_upgrade_is_not_run_again(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        assert await rehearse(host, ScriptedFrontEnd(), tmp_path / "a.jsonl") is Outcome.DONE
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "b.jsonl")
        assert outcome is Outcome.FAILED
        assert "already runs 11.1.0.b835" in detail(front, "preflight")
        records = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
        changed = [r for r in records if r["event"] == "action-start"
                   and any(word in r["text"] for word in ("mv ", "rm ", "kill", "unzip"))]
        assert changed == []
        assert replay(tmp_path / "b.jsonl").state("preflight") is StepState.FAILED


async def test_a_stale_run_resumed_on_a_host_upgraded_since_says_the_host_looks_upgraded(
        tmp_path: Path) -> None:
    """Operator trial 60 (F15): run A stopped before new-database; a
    colleague's run B (another journal) upgraded the host. A, resumed, was
    told its [new_database] is the live stream manager's and to give it
    another: the live install already runs the zip's release on that
    database, so the host is upgraded and there is nothing to do."""
    async with rehearsal_host(tmp_path) as host:
        # A config file of one's own (runbook run against a rehearsal host).
        settings = dataclasses.replace(rehearsal_settings(host), rehearsal_scenario=None)
        first = ScriptedFrontEnd({"new-database": Decision(Answer.STOP)})
        assert await rehearse(host, first, tmp_path / "a.jsonl", settings) is Outcome.STOPPED
        other = ScriptedFrontEnd()
        assert await rehearse(host, other, tmp_path / "b.jsonl", settings) is Outcome.DONE, \
            other.text()[-2000:]
        again = ScriptedFrontEnd()
        outcome = await rehearse(host, again, tmp_path / "a.jsonl", settings,
                                 resume=replay(tmp_path / "a.jsonl"))
    assert outcome is Outcome.FAILED, again.text()[-2000:]
    said = detail(again, "preflight")
    assert "already runs 11.1.0.b835" in said, said
    assert "looks upgraded already" in said and "nothing to do" in said, said
    # Review 60c, F12: unless another run's cutover there is not finished.
    assert "cutover there has not finished" in said, said
    assert "give [new_database]" not in said, said


KEYSTORE_PASSWORD = "Sw0rdfish-9"


async def test_stop_service_kills_a_server_known_only_by_its_red5_root(tmp_path: Path) -> None:
    """Review (stop 45): a server whose working directory says nothing (/: one
    started by hand, or by a jsvc without -cwd) is known by its
    -Dred5.root=.../red5pro, which names the new tree once promote-new has
    run. stop-service took it for the new release's, left it running, and the
    upgrade ended done beside the old server."""
    import sys

    async with rehearsal_host(tmp_path) as host:
        live = host.sandbox / "usr/local/red5pro"
        sleep = "import time; time.sleep(600)"
        by_hand = subprocess.Popen(
            ["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}" -Dred5.root={live} '
             f"-Djavax.net.ssl.keyStorePassword={KEYSTORE_PASSWORD}"],
            cwd="/")
        try:
            front = ScriptedFrontEnd()
            assert await rehearse(host, front, tmp_path / "run.jsonl") is Outcome.DONE
            assert by_hand.poll() is not None, "the old install's server still runs"
            # The operator saw it in the plan they confirmed.
            shown = [action.render() for action in front.plans["stop-service"]]
            assert any(f"pid {by_hand.pid}:" in line for line in shown), shown
            # Review (stop 45): a password its command line gives is a secret
            # like any other, on the screen and in the journal.
            assert any("keyStorePassword=••••••" in line for line in shown), shown
            assert KEYSTORE_PASSWORD not in "\n".join(shown) + front.text()
            assert KEYSTORE_PASSWORD not in (tmp_path / "run.jsonl").read_text()
        finally:
            by_hand.kill()
            by_hand.wait()


async def test_stop_service_kills_a_process_of_the_units_control_group_whatever_it_is_called(
        tmp_path: Path) -> None:
    """Facts audit 61, F12 follow-up: stop-service knew the server by its
    command line only (java, jsvc.exec, -Dred5.root=), so a process the unit
    started under another name (a wrapper, a renamed JVM) was left running
    beside the new release. It now reads the unit's control group too, kills
    what runs there with the rest, and names such a process in the plan."""
    from runbook.rehearsal import sandbox
    from tests.polling import until

    async with rehearsal_host(tmp_path) as host:
        live = host.sandbox / "usr/local/red5pro"
        procs = sandbox.cgroup_root(host.sandbox) / "system.slice/red5pro.service/cgroup.procs"
        await until(lambda: procs.exists() and procs.read_text().strip(),
                    what="the unit's control group to list its server")
        sleep = "import time; time.sleep(600)"
        helper = subprocess.Popen(
            ["bash", "-c", f'exec -a red5-helper {sys.executable} -c "{sleep}"'], cwd=live)
        try:
            # Started by the unit, as its JVM's child would be: in its group.
            with procs.open("a") as listed:
                listed.write(f"{helper.pid}\n")
            front = ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)})
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
            assert outcome is Outcome.STOPPED, front.text()[-3000:]
            assert front.final_state("stop-service") == "done", front.text()[-3000:]
            await until(lambda: helper.poll() is not None, 10,
                        what="the unit's process to be killed")
            shown = [action.render() for action in front.plans["stop-service"]]
            named = [line for line in shown if f"pid {helper.pid}:" in line]
            assert len(named) == 1 and "red5-helper" in named[0], shown
            assert "control group /system.slice/red5pro.service" in named[0], named
            assert "ControlGroup" in shown[0], shown[0]
        finally:
            helper.kill()
            helper.wait()


async def test_stop_service_leaves_the_whole_unit_group_when_it_runs_the_new_release(
        tmp_path: Path) -> None:
    """Review 62b, L1: a reboot between promote-new and stop-service starts
    the new release under the (enabled) unit. stop-service decided the
    unit's control group process by process: the new tree's JVM (working
    directory the promoted folder) was spared, and any other process of the
    same group (a child with its working directory elsewhere) was killed,
    leaving a half-killed new server. The group is one server: it is left
    whole, and the run says so."""
    from runbook.rehearsal import sandbox
    from tests.polling import until

    started: list[subprocess.Popen[bytes]] = []
    sleep = "import time; time.sleep(600)"

    async with rehearsal_host(tmp_path) as host:
        procs = sandbox.cgroup_root(host.sandbox) / "system.slice/red5pro.service/cgroup.procs"
        await until(lambda: procs.exists() and procs.read_text().strip(),
                    what="the unit's control group to list its server")

        def reboot_starts_the_new_release(step: StepReport, _plan: list[Action]) -> None:
            if step.id != "promote-new":
                return
            # The unpacked tree keeps its identity through the rename.
            [new] = (host.sandbox / "usr/local").glob("red5pro-server-*")
            started.append(subprocess.Popen(
                ["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}"'], cwd=new))
            started.append(subprocess.Popen(
                ["bash", "-c", f'exec -a red5-helper {sys.executable} -c "{sleep}"'],
                cwd="/tmp"))
            # After the reboot, the unit's group is the new release's alone.
            procs.write_text("".join(f"{proc.pid}\n" for proc in started))

        try:
            front = ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)},
                                     on_confirm=reboot_starts_the_new_release)
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
            assert outcome is Outcome.STOPPED, front.text()[-3000:]
            assert front.final_state("stop-service") == "done", front.text()[-3000:]
            assert len(started) == 2
            assert [proc.poll() for proc in started] == [None, None], \
                "a process of the new release's group was killed"
            # The plan names the group it leaves, and kills none of it.
            shown = [action.render() for action in front.plans["stop-service"]]
            [kill] = [line for line in shown if "kill -9" in line]
            assert not [proc.pid for proc in started if str(proc.pid) in kill.split()], kill
            [left] = [line for line in shown if "runs the new release" in line]
            assert all(f"pid {proc.pid}:" in left for proc in started), left
        finally:
            for proc in started:
                proc.kill()
                proc.wait()


async def test_the_way_back_before_start_service_leaves_the_old_server_known_by_its_root(
        tmp_path: Path) -> None:
    """Step review (stop 49): the way back taken between promote-new and
    stop-service found the old server (working directory /, -Dred5.root
    naming the promoted tree) "running from the new install", stopped the
    service and killed it: one restart more of the old release, inside the
    downtime, and the journal said the new release was stopped. Nothing has
    started the new tree before start-service."""
    live = None
    async with rehearsal_host(tmp_path) as host:
        live = host.sandbox / "usr/local/red5pro"
        sleep = "import time; time.sleep(600)"
        by_hand = subprocess.Popen(
            ["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}" -Dred5.root={live}'],
            cwd="/")
        time.sleep(1.2)  # ps says whole seconds: clearly before promote-new
        try:
            front = ScriptedFrontEnd({"stop-service": Decision(Answer.ROLLBACK)})
            outcome = await rehearse(host, front, tmp_path / "run.jsonl")
            assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
            assert by_hand.poll() is None, "the way back killed the old server"
        finally:
            by_hand.kill()
            by_hand.wait()
    records = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    sent = [r["text"] for r in records if r["event"] == "action-start"
            and r["step"] == "rollback-stop-new"]
    assert not [text for text in sent if "kill" in text or "systemctl stop" in text], sent


@pytest.mark.parametrize("stepped_back_s", [0, 3600])
async def test_the_way_back_stops_a_new_release_known_by_its_root_that_started_after_promote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stepped_back_s: int) -> None:
    """Second review (stop 50): the same server known only by -Dred5.root,
    started after promote-new (a reboot's start of the new release, or one by
    hand), is the new release's: the way back must stop it, or it moves the
    tree from under it and the old release cannot be proven.

    Review 58a L4: promote-new's time was this machine's clock and the
    server's start the host's running time set against it: this machine's
    clock stepped back an hour (an NTP correction) made the new server look
    started before promote-new, the old one's, and it was left running."""
    journal = tmp_path / "run.jsonl"
    real_time = time.time
    started: list[subprocess.Popen[bytes]] = []
    async with rehearsal_host(tmp_path) as host:
        live = host.sandbox / "usr/local/red5pro"
        sleep = "import time; time.sleep(600)"

        class StartsTheNewOne(ScriptedFrontEnd):
            async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
                if step.id == "stop-service" and not started:
                    started.append(subprocess.Popen(
                        ["bash", "-c",
                         f'exec -a java {sys.executable} -c "{sleep}" -Dred5.root={live}'],
                        cwd="/"))
                    await asyncio.sleep(1.5)  # for it to be running when the way back looks
                    if stepped_back_s:
                        monkeypatch.setattr(time, "time", lambda: real_time() - stepped_back_s)
                return await super().confirm(step, plan)

        front = StartsTheNewOne({"stop-service": Decision(Answer.ROLLBACK)})
        try:
            outcome = await rehearse(host, front, journal)
            assert started and started[0].poll() is not None, "the new release still runs"
        finally:
            for process in started:
                process.kill()
                process.wait()
    assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]


def test_a_database_command_shows_the_port_a_step_read_from_the_live_login() -> None:
    """Review: the rehearsal's config names the port, so the port a step
    reads from the live login (no new_database.port in the config) went
    untested. Until one is known, the plan says <port>."""
    from types import SimpleNamespace

    from steps import database

    def plan(config: int | None, learnt: int | None) -> str:
        p = SimpleNamespace(settings=SimpleNamespace(new_db_host="db", new_db_port=config),
                            facts=SimpleNamespace(db_port=learnt))
        return database.query(p, "SELECT 1")  # type: ignore[arg-type]

    assert "-P <port>" in plan(None, None)
    assert "-P 3307" in plan(None, 3307)
    assert "-P 3310" in plan(3310, 3307)  # the config's, as login() takes it
    assert "-P 4000" in database.query(SimpleNamespace(  # type: ignore[arg-type]
        settings=SimpleNamespace(new_db_host="db", new_db_port=None),
        facts=SimpleNamespace(db_port=None)), "SELECT 1", port=4000)


def test_a_short_wait_overshoots_by_a_fortieth_at_most_and_a_long_one_polls_gently() -> None:
    """Issue 12: what a wait overshoots is downtime. Looking every half second
    added up to a quarter second to each of the cutover's waits in a rehearsal
    (1.5 s teardowns, 3 s boots, a quarter-second service start); a twentieth
    with a 0.1 s floor still left 0.35 s across them. A real two-minute boot
    must still not have the stream manager asked more than twice a second."""
    from steps.waiting import next_look

    for waited in (0.0, 0.05, 0.5, 1.0, 1.5, 3.0, 5.0):
        assert next_look(waited) <= max(0.025, waited / 40)
    assert all(next_look(waited) == 0.5 for waited in (20.0, 60.0, 120.0))
    assert all(next_look(waited) >= 0.025 for waited in (0.0, 0.2))


def test_the_java_listing_finds_each_server_by_its_folder(tmp_path: Path) -> None:
    """The listing script, run by a real sh against real processes named java:
    each found once with the identity of its working directory and of the
    folder -Dred5.root names, also past 4 KiB of command line; nothing else."""
    import os
    import subprocess
    import sys
    import time

    from steps.common import _JAVA_PROCESSES, parse_java_processes

    def java(*args: str) -> list[str]:
        # A process whose command line starts with "java", as a server's does.
        sleep = "import time; time.sleep(30)"
        return ["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}" ' + " ".join(args)]

    tree, other = tmp_path / "red5pro", tmp_path / "bak.red5pro"
    tree.mkdir()
    other.mkdir()
    (tmp_path / "link").symlink_to(tree)
    started = [
        subprocess.Popen(java(f"-Dred5.root={other}", "x"), cwd=tmp_path / "link"),
        subprocess.Popen(java("-cp " * 1200, f"-Dred5.root={tree}"), cwd="/"),
        subprocess.Popen(["bash", "-c", "exec -a notjav sleep 30"], cwd=tree),
    ]
    try:
        time.sleep(0.3)
        done = subprocess.run(["sh", "-c", _JAVA_PROCESSES], capture_output=True, text=True,
                              timeout=30)
        found, slash = parse_java_processes(done.stdout)
        ids = {p: f"{os.stat(p).st_dev}:{os.stat(p).st_ino}" for p in (tree, other, "/")}
        mine = {p.pid: p for p in found if p.pid in {s.pid for s in started}}
        assert slash == ids["/"]
        assert set(mine) == {started[0].pid, started[1].pid}
        assert (mine[started[0].pid].cwd, mine[started[0].pid].red5_root) == \
            (ids[tree], ids[other])
        assert (mine[started[1].pid].cwd, mine[started[1].pid].red5_root) == \
            (ids["/"], ids[tree])
        assert mine[started[0].pid].args.startswith("java -c import time")
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_the_server_listing_finds_a_jsvc_server_whose_command_line_names_no_jvm(
        tmp_path: Path) -> None:
    """Under jsvc the JVM runs inside jsvc.exec, whose arguments name a java
    binary only where the JDK's folder says so: a server under -home
    /opt/jdk-11 is found by its jsvc.exec name and its -Dred5.root (facts audit
    61, F12: the listing grepped "java" alone, so stop-service found nothing
    to stop); the listing's own shell, which spells both, is not."""
    import subprocess
    import sys
    import time

    from steps.common import _JAVA_PROCESSES, parse_java_processes

    tree = tmp_path / "red5pro"
    tree.mkdir()
    sleep = "import time; time.sleep(30)"
    started = [
        subprocess.Popen(["bash", "-c", f'exec -a jsvc.exec {sys.executable} -c "{sleep}" '
                          f"-home /opt/jdk-11 -cwd {tree} org.red5.daemon.EngineLauncher"],
                         cwd=tree),
        subprocess.Popen(["bash", "-c", f'exec -a server {sys.executable} -c "{sleep}" '
                          f"-Dred5.root={tree}"], cwd="/"),
    ]
    try:
        time.sleep(0.3)
        done = subprocess.run(["sh", "-c", _JAVA_PROCESSES], capture_output=True, text=True,
                              timeout=30)
        found, _slash = parse_java_processes(done.stdout)
        pids = {process.pid for process in found}
        assert {process.pid for process in started} <= pids
        assert not [process for process in found if "[j]" in process.args
                    or "stat -L" in process.args]
    finally:
        for process in started:
            process.kill()
            process.wait()


@pytest.mark.parametrize("layout", ["", "/unified", "/systemd"])
@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_the_unit_listing_finds_its_control_groups_processes_whatever_their_command_line(
        tmp_path: Path, layout: str, shell: str) -> None:
    """Facts audit 61, F12 follow-up: a server the unit started is in the
    unit's control group whatever its command line names. The listing asks
    systemd for the group (`systemctl show -p ControlGroup red5pro`) and reads
    its cgroup.procs under the cgroup tree (/sys/fs/cgroup on cgroup v2,
    unified/ and systemd/ below it in systemd's hybrid and legacy layouts):
    a process the command-line match missed is listed as such, with the
    folder it runs from; one both found is listed once. The root group ("/")
    and no group ("") list nothing from the tree.

    In dash (Debian's sh, where sudo -n sh -c runs it) and bash (a login
    shell's, without sudo): the group's look runs after the command-line
    match's `set -f; IFS=" "` (9d3e742), which its `read -r`, its unquoted
    $n and a cgroup tree whose path holds a blank and glob characters must
    not feel (review R3)."""
    from steps.common import parse_java_processes, unit_processes_script

    if shutil.which(shell) is None:
        pytest.skip(f"no {shell} here")

    sleep = "import time; time.sleep(30)"
    tree = tmp_path / "red5pro"
    tree.mkdir()
    bin_dir, root = tmp_path / "bin", tmp_path / "c group [*]"
    bin_dir.mkdir()
    answer = tmp_path / "answer"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\ncat {answer}\n')
    (bin_dir / "systemctl").chmod(0o755)
    group = root / layout.lstrip("/") / "system.slice/red5pro.service"
    group.mkdir(parents=True)
    started = [
        subprocess.Popen(["bash", "-c", f'exec -a red5-server {sys.executable} -c "{sleep}"'],
                         cwd=tree),
        subprocess.Popen(["bash", "-c", f'exec -a jsvc.exec {sys.executable} -c "{sleep}"'],
                         cwd=tree),
        subprocess.Popen(["bash", "-c", f'exec -a not-ours {sys.executable} -c "{sleep}"'],
                         cwd=tree),
    ]
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        time.sleep(0.3)
        # A pid may show twice (the kernel's cgroup-v2 doc); a gone one has
        # no command line left to name it by.
        group.joinpath("cgroup.procs").write_text(
            f"{started[0].pid}\n{started[1].pid}\n{started[0].pid}\n{gone.pid}\n")
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

        def listed(said: str) -> list[Any]:
            answer.write_text(said)
            done = subprocess.run([shell, "-c", unit_processes_script(str(root))],
                                  capture_output=True, text=True, timeout=30, env=env)
            assert done.returncode == 0, done.stderr
            mine = {s.pid for s in started} | {gone.pid}
            return sorted((p for p in parse_java_processes(done.stdout)[0] if p.pid in mine),
                          key=lambda p: p.pid)

        found = listed("ControlGroup=/system.slice/red5pro.service\n")
        ident = f"{os.stat(tree).st_dev}:{os.stat(tree).st_ino}"
        assert [(p.pid, p.named, p.unit_group, p.cwd) for p in found] == [
            (started[0].pid, False, "/system.slice/red5pro.service", ident),
            (started[1].pid, True, "/system.slice/red5pro.service", ident)], found
        assert found[0].args.startswith("red5-server -c import time"), found[0].args
        for nothing in ("ControlGroup=/\n", "ControlGroup=\n", ""):
            assert [p.pid for p in listed(nothing)] == [started[1].pid], nothing
            assert listed(nothing)[0].unit_group is None
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_the_java_listing_reads_a_long_command_line_in_one_pass(tmp_path: Path) -> None:
    """The cutover lists the host's servers six times while the stream manager
    is down. Each line's -Dred5.root was cut out with ${a##*...}, which sh
    matches by trying every prefix against every split of it: a 16 KiB
    command line (a classpath of every jar in lib/) took the listing 2 s, 64
    KiB over ten seconds, and every java line paid for its length squared
    (issue 12). The last -Dred5.root given is the one found, as the JVM
    takes the last of a property set twice; one that names none has none."""
    import os
    import subprocess
    import sys
    import time

    from steps.common import _JAVA_PROCESSES, parse_java_processes

    first, last = tmp_path / "first", tmp_path / "red5pro"
    first.mkdir()
    last.mkdir()
    sleep = "import time; time.sleep(60)"
    jars = " ".join(f"-cp /usr/local/red5pro/lib/jar-{n:05}.jar" for n in range(1600))
    started = [
        subprocess.Popen(["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}" '
                          f"-Dred5.root={first} {jars} -Dred5.root={last} x"], cwd="/"),
        subprocess.Popen(["bash", "-c", f'exec -a java {sys.executable} -c "{sleep}" {jars}'],
                         cwd=tmp_path),
    ]
    try:
        time.sleep(0.3)
        began = time.monotonic()
        done = subprocess.run(["sh", "-c", _JAVA_PROCESSES], capture_output=True, text=True,
                              timeout=60)
        took = time.monotonic() - began
        found, _slash = parse_java_processes(done.stdout)
        mine = {p.pid: p for p in found if p.pid in {s.pid for s in started}}
        assert set(mine) == {process.pid for process in started}, done.stdout[-2000:]
        assert len(mine[started[0].pid].args) > 60_000
        identity = f"{os.stat(last).st_dev}:{os.stat(last).st_ino}"
        assert mine[started[0].pid].red5_root == identity
        assert mine[started[1].pid].red5_root is None
        assert took < 5, f"the listing took {took:.1f}s"
    finally:
        for process in started:
            process.kill()
            process.wait()


class DeletesFirst(ScriptedFrontEnd):
    """Sends nodegroups' DELETEs itself as step `before` is confirmed (`count`
    of them, None: all): the requests a run killed while waiting for the
    groups to go had sent, or (`cutover_began` False) someone else's. A
    killed run had recorded its cutover on the host before its first DELETE."""

    def __init__(self, host: RehearsalHost, before: str = "delete-nodegroups",
                 count: int | None = None, *, journal: Path | None = None) -> None:
        super().__init__()
        self.host = host
        self.before = before
        self.count = count
        self.journal = journal  # the killed run's, whose cutover began; None: someone else

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        if step.id == self.before:
            from runbook.hoststate import HostState
            from runbook.smapi import StreamManagerAPI

            settings = rehearsal_settings(self.host)
            if self.journal is not None:
                HostState(self.host.sandbox / ".operator", settings.host.address,
                          settings.host.port).begin_cutover(self.journal)
            async with StreamManagerAPI(settings.api_base_url, self.host.api_token,
                                        settings.api_version) as api:
                for group in (await api.list_nodegroups())[:self.count]:
                    await api.delete_nodegroup(group["name"])
                going = await api.list_nodegroups()
            assert "terminating" in {g["state"] for g in going}, going
        return await super().confirm(step, plan)


async def test_delete_nodegroups_plans_no_delete_for_a_group_going_already(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: resumed after the DELETEs were sent, the step's plan
    still listed every DELETE to confirm, its id typed for them, and then
    sent none: in the downtime, the plan confirmed must be what runs."""
    from runbook.model import ApiCall, Note

    monkeypatch.setenv("RUNBOOK_REHEARSAL_PACE", "0.05")  # a group goes in about 3 s
    async with rehearsal_host(tmp_path) as host:
        from runbook.rehearsal import cloud

        groups = sorted(g["name"] for g in cloud.list_nodegroups(host.sandbox, *host.old_db))
        assert len(groups) >= 2, groups
        # Sent between the snapshot and the step's look at the live groups.
        front = DeletesFirst(host, before="upload", count=1, journal=tmp_path / "b.jsonl")
        outcome, _ = await run_only(host, ["preflight", "export-config", "upload",
                                           "delete-nodegroups"], tmp_path / "b.jsonl", front)
        assert outcome is Outcome.DONE, detail(front, "delete-nodegroups")
    plan = front.plans["delete-nodegroups"]
    deletes = [a.path.removeprefix("admin/nodegroup/") for a in plan
               if isinstance(a, ApiCall) and a.method == "DELETE"]
    going = set(groups) - set(deletes)
    assert len(going) == 1 and len(deletes) == len(groups) - 1, plan
    notes = [a.text for a in plan if isinstance(a, Note)]
    assert any(going.pop() in note and "already" in note for note in notes), notes
    assert unplanned(tmp_path / "b.jsonl", front.plans) == []


async def test_delete_nodegroups_sends_nothing_when_the_groups_changed_after_its_plan(
        tmp_path: Path) -> None:
    """Review: the plan is the check's listing, and run() listed the groups
    again: one made while the question waited was neither deleted nor
    refused (the step waited its whole limit for 'lists none'), and one that
    came back would have been sent a DELETE nobody was shown."""
    from runbook.smapi import StreamManagerAPI

    class MakesOne(ScriptedFrontEnd):
        async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
            if step.id == "delete-nodegroups":
                settings = rehearsal_settings(host)
                async with StreamManagerAPI(settings.api_base_url, host.api_token,
                                            settings.api_version) as api:
                    group = (await api.list_nodegroups())[0]
                    await api.create_nodegroup(group["regions"], group["launchConfig"],
                                               group["scalePolicy"])
            return await super().confirm(step, plan)

    async with rehearsal_host(tmp_path) as host:
        from runbook.rehearsal import cloud

        front = MakesOne()
        outcome, _ = await run_only(host, ["preflight", "export-config", "delete-nodegroups"],
                                    tmp_path / "j.jsonl", front)
        left = cloud.list_nodegroups(host.sandbox, *host.old_db)
    assert outcome is Outcome.FAILED
    said = detail(front, "delete-nodegroups")
    # Made after the snapshot, it is a fleet the snapshot no longer holds.
    assert " is new" in said and "Nothing was deleted" in said, said
    assert len(left) == 3, "no DELETE went out"


async def test_delete_nodegroups_lists_the_nodegroups_once_per_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the cutover, the check read the fleet (its nodegroups listed)
    and then listed them again for itself, and so did run() after the
    question: two GETs of one list each time, the second before the
    downtime's first DELETE. One listing now serves both."""
    from runbook.events import Event, StepChanged
    from runbook.smapi import StreamManagerAPI

    said: list[str] = []
    real_call = StreamManagerAPI._call

    async def call(self: StreamManagerAPI, method: str, rel: str, *args: object,
                   **kwargs: object) -> object:
        said.append(f"{method} {rel}")
        return await real_call(self, method, rel, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamManagerAPI, "_call", call)

    class Marks(ScriptedFrontEnd):
        def tell(self, event: Event) -> None:
            super().tell(event)
            if isinstance(event, StepChanged) and event.report.id == "export-config" and \
                    event.report.state is StepState.DONE:
                said.append("export-config done")

    front = Marks(on_confirm=lambda step, _plan: said.append(f"asked {step.id}"))
    async with rehearsal_host(tmp_path) as host:
        outcome, _ = await run_only(host, ["preflight", "export-config", "delete-nodegroups"],
                                    tmp_path / "j.jsonl", front)
    assert outcome is Outcome.DONE, detail(front, "delete-nodegroups")
    checked = said[said.index("export-config done"):said.index("asked delete-nodegroups")]
    first = next(n for n, call in enumerate(said) if call.startswith("DELETE "))
    ran = said[said.index("asked delete-nodegroups"):first]
    assert checked.count("GET admin/nodegroup") == 1, checked
    assert ran.count("GET admin/nodegroup") == 1, ran


async def test_delete_nodegroups_waits_for_the_groups_an_earlier_attempt_deletes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: killed while the groups went, the resumed step sent
    each DELETE again; the API answers 404 for a group it is deleting already,
    and the step failed (offering the way back) until they were gone."""
    monkeypatch.setenv("RUNBOOK_REHEARSAL_PACE", "0.05")  # a group goes in about 3 s
    async with rehearsal_host(tmp_path) as host:
        front = DeletesFirst(host, journal=tmp_path / "j.jsonl")
        outcome, _ = await run_only(host, ["preflight", "export-config", "delete-nodegroups"],
                                    tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, detail(front, "delete-nodegroups")
        assert "being deleted already" in "\n".join(line for _, _, line in front.lines)
        from runbook.rehearsal import cloud

        assert cloud.list_nodegroups(host.sandbox, *host.old_db) == []


async def test_preflight_says_a_cutover_looks_under_way_when_only_the_backup_is_there(
        tmp_path: Path) -> None:
    """Operator trial: run from a second machine mid-cutover, preflight said
    "no live install; check install.dir", as if the config were wrong."""
    async with rehearsal_host(tmp_path) as host:
        (host.install_dir / "red5pro").rename(host.install_dir / "bak.red5pro")
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        said = detail(front, "preflight")
        assert outcome is Outcome.FAILED
        assert "bak.red5pro" in said and "cutover" in said and "--resume" in said, said
        assert "runbook rollback" in said, said


@pytest.mark.parametrize("zip_is", ["missing", "damaged"])
async def test_preflight_without_the_zip_gives_no_java_advice_from_the_old_unit(
        tmp_path: Path, zip_is: str) -> None:
    """Operator trial: with the distribution not downloaded yet, preflight judged
    the installed unit's Java 8 against the new release and said to install
    Java 11 there; the new release's own unit uses the Java 11 already there.
    So did a zip that cannot be read (review)."""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        missing = tmp_path / "elsewhere" / settings.distribution.name
        if zip_is == "damaged":
            missing.parent.mkdir()
            missing.write_bytes(b"PK not really")
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front,
                                    distribution=missing)
        said = detail(front, "preflight")
        assert outcome is Outcome.FAILED
        assert f"{missing} is not on this machine" in said or "not a readable zip" in said, said
        assert "Java" not in said, said


async def test_a_resumed_run_that_began_no_cutover_does_not_take_the_backup_for_its_own(
        tmp_path: Path) -> None:
    """Review: resumed, a run refused because another run's cutover was under
    way took bak.red5pro for its own old install, passed preflight, and went
    towards a second cutover beside the first."""
    from runbook.executor import Answer

    async with rehearsal_host(tmp_path) as host:
        journal = tmp_path / "j.jsonl"
        first = ScriptedFrontEnd(answers={"new-database": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        (host.install_dir / "red5pro").rename(host.install_dir / "bak.red5pro")
        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        said = detail(second, "preflight")
        assert outcome is Outcome.FAILED, said
        assert "looks under way" in said, said


async def test_delete_nodegroups_goes_on_when_a_group_was_going_at_export_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: export-config leaves a group being deleted out of the snapshot,
    and delete-nodegroups then refused it as "created after the snapshot"."""
    monkeypatch.setenv("RUNBOOK_REHEARSAL_PACE", "0.05")  # a group goes in about 3 s
    async with rehearsal_host(tmp_path) as host:
        front = DeletesFirst(host, before="export-config", count=1)
        outcome, _ = await run_only(host, ["preflight", "export-config", "delete-nodegroups"],
                                    tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, detail(front, "delete-nodegroups")


@pytest.mark.parametrize("flags_end", [" \\\n    -pidfile /p org.red5.daemon.EngineLauncher 9999\n",
                                       "\n"])
@pytest.mark.parametrize(("heap", "limit", "carried"), [
    ("-Xms8g -Xmx12g", "1000000", ["-Xms8g", "-Xmx12g", "LimitNOFILE=1000000"]),
    ("-Xms2g -Xmx2g", "65536", []),
    # Set twice: which one Java takes is not runbook's to guess.
    ("-Xms2g -Xmx2g -Xmx4g", "65536", []),
    ("-Xms1024m -Xmx2g", "infinity", ["-Xms1024m", "LimitNOFILE=infinity"]),
])
def test_the_hosts_tuning_goes_into_the_release_s_unit_alike_by_python_and_by_sed(
        tmp_path: Path, flags_end: str, heap: str, limit: str, carried: list[str]) -> None:
    """service-unit edits the release's unit on the host with GNU sed, and
    judges it installed by the same edit made here: both must give the same
    bytes (a heap flag last on its line or not; blanks around an =)."""
    from steps import red5

    shipped = ("[Service]\nLimitNOFILE = 65536\n"
               f"ExecStart=/usr/bin/jsvc -home /j -Xms2g -Xmx2g{flags_end}"
               "ExecStop=/usr/bin/jsvc -stop -pidfile /p org.red5.daemon.EngineLauncher\n")
    installed = shipped.replace("-Xms2g -Xmx2g", heap).replace("= 65536", f"= {limit}")
    tuning = red5.unit_tuning(installed, shipped)
    assert [str(tuned) for tuned in tuning] == carried
    made = red5.tuned_unit(shipped, tuning)
    unit = tmp_path / "red5pro.service"
    unit.write_text(shipped)
    edits = [arg for edit in red5.tuning_sed(tuning) for arg in ("-e", edit)]
    if edits:  # else the step copies the release's unit as it is
        subprocess.run(["sed", "-i", *edits, "--", str(unit)], check=True)
    assert unit.read_text() == made
    if len(carried) == 3:
        assert made == installed


def test_an_open_files_limit_as_a_later_unit_ships_it_is_not_named_as_the_hosts() -> None:
    """Facts audit 60b (L3): the docs' unit for 9.0 and later ships
    LimitNOFILE=1000000 (FACTS section 3), but only 65536 was taken as
    shipped: upgrading from such a unit to one that sets no limit, preflight
    said the host had set 1000000 and to set it again by hand. A value the
    sources ship is not the host's; another one still is."""
    from steps import red5

    later = "[Service]\nLimitNOFILE=1000000\nExecStart = /usr/local/red5pro/red5pro.sh start\n"
    none = "[Service]\nExecStart = /usr/local/red5pro/red5pro.sh start\n"
    assert red5.tuning_left_behind(later, none) == []
    assert red5.tuning_left_behind(later.replace("1000000", "65536"), none) == []
    assert red5.tuning_left_behind(later.replace("1000000", "500000"), none) \
        == ["LimitNOFILE=500000"]


def test_tuning_is_carried_only_where_it_is_the_hosts_and_what_is_not_is_named(
        tmp_path: Path) -> None:
    """Second review (stop 51): an old release's 65536 open files was carried
    over a later release's 1000000; a heap the release's unit does not set
    (red5pro.sh sets it, FACTS §3) was dropped unsaid; and Python's edit and
    sed's differed on a flag at the start of a continued line."""
    from steps import red5

    jdk8 = ("[Service]\nLimitNOFILE=65536\n"
            "ExecStart=/usr/bin/jsvc -home /j -Xms2g -Xmx8g -pidfile /p Launcher 9999\n")
    script = "[Service]\nLimitNOFILE=1000000\nExecStart = /usr/local/red5pro/red5pro.sh start\n"
    assert red5.unit_tuning(jdk8, script) == []
    assert red5.tuning_left_behind(jdk8, script) == ["-Xmx8g"]
    assert red5.tuning_left_behind(jdk8.replace("-Xmx8g", "-Xmx2g"), script) == []
    # A flag first on a continued line (systemd joins it to the line before):
    # both edits take it, alike (it was neither carried nor named, stop 51).
    shipped = "[Service]\nExecStart=/usr/bin/jsvc -home /j \\\n-Xms2g -Xmx2g -pidfile /p\n"
    installed = shipped.replace("-Xms2g -Xmx2g", "-Xms4g -Xmx8g")
    tuning = red5.unit_tuning(installed, shipped)
    assert [str(t) for t in tuning] == ["-Xms4g", "-Xmx8g"]
    unit = tmp_path / "red5pro.service"
    unit.write_text(shipped)
    edits = [arg for edit in red5.tuning_sed(tuning) for arg in ("-e", edit)]
    subprocess.run(["sed", "-i", *edits, "--", str(unit)], check=True)
    assert unit.read_text() == red5.tuned_unit(shipped, tuning) == installed
    # Not a flag: a word that only ends in one.
    assert red5.unit_tuning(shipped.replace("-Xms2g -Xmx2g", "x-Xms4g -Xmx2g"), shipped) == []


def test_what_the_host_changed_in_its_unit_beyond_tuning_is_named_without_values() -> None:
    """Stop 51 left it: service-unit installs the release's unit, so a line
    the operator added to the old one (an extra -D flag, an Environment=,
    Nice=) is gone from the new stream manager unsaid. Set against the unit
    the old release shipped (Red5's installers copy it from the install's
    root, FACTS §3), what the host changed and the new release's unit does
    not have is named: by flag or variable, never by value (a unit may keep a
    secret)."""
    from steps import red5

    released = ("[Service]\nEnvironment=PID=/var/run/red5pro.pid\n"
                "Environment=JAVA_HOME=/usr/lib/jvm/java-11-openjdk-amd64\nLimitNOFILE=65536\n"
                "ExecStart=/usr/bin/jsvc -home ${JAVA_HOME} -cp /r/commons-daemon-1.2.4.jar "
                "-Xms2g -Xmx2g -pidfile ${PID} Launcher 9999\n")
    # The new release: another jar, and Java 21 (FACTS §3).
    shipped = released.replace("1.2.4", "1.3.4").replace("java-11", "java-21")
    assert red5.unit_changes_left(released, released, shipped) == []
    # Tuned as the installers tune it, JAVA_HOME pointed elsewhere: all the
    # release's to set (service-unit carries the tuning and proves the Java).
    tuned = (released.replace("-Xms2g -Xmx2g", "-Xms8g -Xmx8g").replace("65536", "1000000")
             .replace("java-11-openjdk-amd64", "jdk-11"))
    assert red5.unit_changes_left(tuned, released, shipped) == []
    custom = (tuned.replace(" Launcher", " -Dred5.secret=hunter2 -Dsun.net.x Launcher")
              .replace("LimitNOFILE", "Environment=DB_PASS=hunter2 OTHER=1\nNice=-5\n"
                       "LimitNOFILE"))
    assert red5.unit_changes_left(custom, released, shipped) == [
        "Environment DB_PASS", "Environment OTHER", "Nice", "ExecStart -Dred5.secret",
        "ExecStart -Dsun.net.x"]
    # What the new release's unit has as well is not lost.
    assert red5.unit_changes_left(custom, released, shipped.replace(
        "Environment=PID", "Nice=-5\nEnvironment=OTHER=1\nEnvironment=PID")) == [
        "Environment DB_PASS", "ExecStart -Dred5.secret", "ExecStart -Dsun.net.x"]
    # A word that is no flag is not shown: it may be a flag's value given apart.
    assert red5.unit_changes_left(custom.replace(" Launcher", " -user hunter2 Launcher"),
                                  released, shipped)[-2:] == ["ExecStart -user",
                                                              "ExecStart arguments"]
    # A value joined to its flag by a colon, and a quoted Environment= (as
    # systemd reads it), name no part of the value (second review).
    quoted = custom.replace(" Launcher", " -Dpw:hunter2 Launcher").replace(
        "Environment=DB_PASS=hunter2 OTHER=1", 'Environment="DB_PASS=hunter2 x=yz" OTHER=1')
    named = red5.unit_changes_left(quoted, released, shipped)
    assert "ExecStart -Dpw" in named and "Environment x" not in named, named
    assert not any("hunter2" in name or "yz" in name for name in named), named
    broken = custom.replace("Environment=DB_PASS=hunter2", 'Environment="DB_PASS=hunter2')
    assert "Environment (a line whose quotes do not close)" in red5.unit_changes_left(
        broken, released, shipped)
    # A flag on a continued line is the line's.
    continued = custom.replace(" -Dsun.net.x", " \\\n  -Dsun.net.x")
    assert "ExecStart -Dsun.net.x" in red5.unit_changes_left(continued, released, shipped)


async def test_a_distribution_saved_under_its_account_download_name_is_read_for_its_release(
        tmp_path: Path) -> None:
    """A zip downloaded from the Red5 account is named red5pro-server-us-<uuid>.zip
    (FACTS-scenarios, section 2), not by its release: preflight refused it,
    telling the operator to "use the zip as downloaded", which they had. The
    release is read inside it, as Red5's installer reads it (conf/red5.ini)."""
    from steps import red5

    async with rehearsal_host(tmp_path) as host:
        release = red5.distribution_version(host.distribution.name)
        downloaded = tmp_path / "red5pro-server-us-3f2b9c7e-8d41-4a6b-b0e5-1c9d2f7a6e10.zip"
        downloaded.write_bytes(host.distribution.read_bytes())
        front = ScriptedFrontEnd()
        outcome, facts = await run_only(host, ["preflight", "upload", "unpack"],
                                        tmp_path / "j.jsonl", front, distribution=downloaded)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        assert release and facts.new_version == release
        folder, _flat = red5.layout(downloaded)
        assert (host.install_dir / folder).is_dir()


async def test_preflight_resumed_after_the_unit_was_installed_says_where_things_stand(
        tmp_path: Path) -> None:
    """Operator trial: resumed after start-service, preflight said the run
    "will install the red5pro.service the new release ships" (installed
    already) and "done: live 6.2.0.b406, new 11.1.0.b835" while red5pro held
    11.1.0.b835: the release kept for the way back is the old one."""
    from runbook.journal_replay import replay

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED
        second = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
        await rehearse(host, second, journal, resume=replay(journal))
    said = [line for step, _stream, line in second.lines if step == "preflight"]
    assert not any("will install" in line for line in said), said
    assert any("already is the red5pro.service the new release ships" in line
               for line in said), said
    result = detail(second, "preflight")
    assert result.startswith("old ") and "live " not in result, result


def flattened(zip_path: Path, into: Path) -> Path:
    """`zip_path` as a flat zip: its top folder's contents at the zip's root."""
    import zipfile

    flat = into / zip_path.name
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(flat, "w") as target:
        for info in source.infolist():
            _top, _, rest = info.filename.partition("/")
            if rest:
                data = b"" if info.is_dir() else source.read(info)
                info.filename = rest
                target.writestr(info, data)
    return flat


@pytest.mark.timeout(600)
async def test_a_flat_distribution_zip_is_unpacked_into_a_folder_of_its_own(
        tmp_path: Path) -> None:
    """Facts audit: Red5's installer takes a zip with a red5pro* top folder and
    a flat one alike, so the folder cannot be assumed (FACTS §4), and the
    top folder of the 10.9 and 11.1 zips is not known (FACTS-scenarios §2).
    Preflight refused a flat zip outright; unzipped as the others are, it
    would have spilled over the install folder, beside red5pro."""
    from steps import red5

    async with rehearsal_host(tmp_path) as host:
        (tmp_path / "flat").mkdir()
        flat = flattened(host.distribution, tmp_path / "flat")
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, tmp_path / "run.jsonl",
                                 dataclasses.replace(rehearsal_settings(host),
                                                     distribution=flat))
        assert outcome is Outcome.DONE, front.text()[-3000:]
        release = red5.distribution_version(flat.name)
        assert release and release in detail(front, "start-service")
        assert (host.install_dir / "red5pro" / red5.PROPERTIES).is_file()
        assert (host.install_dir / "bak.red5pro" / red5.PROPERTIES).is_file()
        # Nothing of the zip landed loose in the install folder.
        assert not (host.install_dir / "webapps").exists()
        assert not (host.install_dir / "conf").exists()


async def test_a_live_value_beyond_ascii_is_carried_over_as_java_reads_it(tmp_path: Path) -> None:
    """Java reads red5-web.properties byte by byte as ISO-8859-1, and so does
    `runbook diff`; the run must too, or a live value holding a byte that is not
    UTF-8 (a file saved in Latin-1) reaches the new file as U+FFFD, and one in
    UTF-8 differs from the value the review fingerprinted."""
    import javaproperties

    async with rehearsal_host(tmp_path) as host:
        webinf = "webapps/streammanager/WEB-INF/red5-web.properties"
        live = host.install_dir / "red5pro" / webinf
        data = live.read_bytes()
        assert b"\nlocation.geozone=\n" in data
        live.write_bytes(data.replace(b"\nlocation.geozone=\n",
                                      b"\nlocation.geozone=Z\xfcrich caf\xc3\xa9\n"))
        java_sees = javaproperties.loads(live.read_bytes().decode("latin-1"))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, step_ids_through("properties"), tmp_path / "j.jsonl",
                                    front)
        assert outcome is Outcome.DONE, front.states[-3:]
        new = next(host.install_dir.glob("red5pro-server-*")) / webinf
        merged = javaproperties.loads(new.read_bytes().decode("latin-1"))
        java_value = "Z\u00fcrich caf\u00c3\u00a9"  # the UTF-8 e-acute is two characters to Java
        assert merged["location.geozone"] == java_sees["location.geozone"] == java_value


async def test_a_live_password_beyond_ascii_logs_in_as_the_stream_manager_would(
    tmp_path: Path
) -> None:
    """The stream manager reads config.dbPass as ISO-8859-1 (Java's Properties),
    and its MySQL driver sends the password as UTF-8 (inferred: Connector/J's
    passwordCharacterEncoding falls back to UTF-8). The run's login to the new
    database must read the same password, not the file's bytes taken as UTF-8,
    where a Latin-1 byte turns into U+FFFD and the new database refuses it."""
    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro" / "webapps/streammanager/WEB-INF/red5-web.properties"
        user, password = host.db_account
        data = live.read_bytes()
        assert f"\nconfig.dbPass={password}\n".encode() in data
        live.write_bytes(data.replace(f"\nconfig.dbPass={password}\n".encode(),
                                      f"\nconfig.dbPass={password}\xe9\n".encode("latin-1")))
        java_sees = password + "\u00e9"
        await host.databases.new.set_password(user, java_sees)
        front = ScriptedFrontEnd()
        journal = tmp_path / "j.jsonl"
        outcome, _ = await run_only(host, step_ids_through("schema"), journal, front)
        assert outcome is Outcome.DONE, front.states[-3:]
        assert front.final_state("schema") == "done"
        assert java_sees not in journal.read_text(encoding="utf-8")


def test_a_secret_is_masked_as_java_reads_it_and_as_its_utf8_bytes_read() -> None:
    """Review: a password saved as UTF-8 is registered as Java reads it
    (ISO-8859-1, two characters for the e-acute); a command's output or a log
    shows it as UTF-8, which that form does not match."""
    from runbook.redact import Redactor

    redactor = Redactor()
    java_sees = "p\u00c3\u00a9ss-w0rd"
    redactor.add(java_sees)
    for shown in (java_sees, "p\u00e9ss-w0rd"):
        assert shown not in redactor(f"login with {shown} failed")
    redactor.add("p\u00e9ss")  # Latin-1 bytes, no UTF-8 text: the one form
    assert "p\u00e9ss" not in redactor("p\u00e9ss")


async def test_recreate_says_the_alarm_thresholds_stay_behind() -> None:
    """Facts audit: cluster.sql seeds the scale-out alarm at 60 % and nothing
    reads a custom one out of the old database (FACTS §5, §6.1): after the
    cutover it is quietly back at 60 %. The export does not save it, so the plan says
    how to set it again (FACTS §2.2); the way back keeps the old database."""
    from runbook.cli import wiring
    from steps.rollback import RecreateOld
    from tests.test_tui_fakes import SNAPSHOT_JOURNAL, TOKEN, settings

    session = wiring.session(settings(), token=TOKEN, journal_path=SNAPSHOT_JOURNAL,
                             state_dir=SNAPSHOT_JOURNAL.parent)
    forward = "\n".join(a.render() for a in session.preview()["recreate"] or [])
    assert "alarm" in forward and "admin/alarm/scaleout/default" in forward
    back = "\n".join(a.render() for a in RecreateOld().plan(session.plan_context()))
    assert "alarm" not in back


async def test_recreates_verify_asks_the_api_nothing_its_wait_has_just_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait's last look found every origin in service; the verify that
    follows asked the API all of it again (a fresh client's version, the
    launch configs, scale policies, nodegroups and their nodes): two round
    trips and more at the end of the downtime, for an answer a moment old
    (issue 12). It takes the wait's."""
    from runbook.events import Event, Output, StepChanged
    from runbook.smapi import StreamManagerAPI

    said: list[str] = []
    real_send = StreamManagerAPI._send

    async def send(self: StreamManagerAPI, method: str, path: str, *args: object,
                   **kwargs: object) -> Any:
        said.append(f"{method} {path}")
        return await real_send(self, method, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamManagerAPI, "_send", send)

    class Marks(ScriptedFrontEnd):
        def tell(self, event: Event) -> None:
            super().tell(event)
            if isinstance(event, Output) and event.step_id == "recreate" and \
                    event.line == "every recreated nodegroup has its origins in service":
                said.append("in service")
            if isinstance(event, StepChanged) and event.report.id == "recreate" and \
                    event.report.state is StepState.DONE:
                said.append("recreate done")

    front = Marks()
    async with rehearsal_host(tmp_path) as host:
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
    assert outcome is Outcome.DONE, front.text()[-2000:]
    assert front.final_state("recreate") == "done", front.text()[-2000:]
    assert said[said.index("in service"):] == ["in service", "recreate done"], \
        said[said.index("in service"):]


# The stand-in server always; MariaDB where it is installed.
DATABASE_KINDS = [databases.FAKE, pytest.param(databases.MARIADB, marks=pytest.mark.skipif(
    databases.find_mariadb() is None, reason="MariaDB is not installed"))]


@pytest.mark.parametrize("kind", DATABASE_KINDS)
@pytest.mark.parametrize("where", ["tables", "keys"])
async def test_a_schema_import_that_did_not_finish_is_done_again_on_retry(
    tmp_path: Path, kind: str, where: str
) -> None:
    """Operator trial: x during schema's import, then t, refused for good: the
    new database had some of the release's tables, and runbook "does not
    overwrite a database that has tables". An import that stops part way
    (stopped, cut off, or failing at a statement, as here) leaves only tables
    of the release's own file, which this step made: its retry drops them and
    imports the file whole. Review: stopped in the keys and constraints that
    follow the last table ("keys"), every table was there, and the retry found
    the schema done without them."""
    from runbook.executor import Recovery
    from runbook.rehearsal import scenarios
    from tests.test_scenarios import new_database_tables, schema_tables

    async with rehearsal_host(tmp_path, databases=kind) as host:
        whole: dict[Path, str] = {}
        typed: list[bool] = []

        class Operator(ScriptedFrontEnd):
            async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
                if step.id == "schema" and not whole:
                    # The release's file breaks half way: the import stops there.
                    file = next(host.install_dir.glob("red5pro-server-*")) \
                        / "webapps/streammanager/WEB-INF/sql/cluster.sql"
                    text = whole[file] = file.read_text()
                    cut = text.index("CREATE TABLE", len(text) // 2) if where == "tables" \
                        else text.index("ALTER TABLE")
                    file.write_text(text[:cut] + "THIS IS NOT SQL;\n" + text[cut:])
                typed.append(step.destructive_now)
                return await super().confirm(step, plan)

            async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
                for file, text in whole.items():
                    file.write_text(text)  # mended: the retry imports it whole
                return await super().recover(step, can_roll_back=can_roll_back)

        front = Operator(recoveries={"schema": [Recovery.RETRY]})
        outcome, _facts = await run_only(host, step_ids_through("schema"),
                                         tmp_path / "j.jsonl", front)
        tables = await new_database_tables(host)
    assert outcome is Outcome.DONE, front.states[-3:]
    assert front.recovered == [("schema", False)], "the broken file failed the import"
    assert tables == schema_tables(scenarios.scenario(scenarios.DEFAULT).new)
    # The retry's confirmation showed the drop, with why.
    retry = [action.render() for action in front.plans["schema"]]
    assert any("DROP TABLE IF EXISTS" in text for text in retry), "\n".join(retry)
    assert typed[-2:] == [False, True], "the retry, which drops tables, asks for its id typed"
    checks = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert any("did not finish" in r.get("detail", "") for r in checks
               if r["event"] == "check" and r.get("step") == "schema"), "the check said why"


async def test_a_step_that_only_looks_and_is_cut_off_every_time_says_why(
        tmp_path: Path) -> None:
    """Bad-input trial: with timeouts.command at 0.0001 s, preflight was tried
    three times, each command cut off, and ended in doubt saying "Preflight
    checks did not end well: " and nothing after it. A command its limit ended
    is no lost connection (review, stop 45): the step, which only looks,
    fails once, saying nothing changed and what gives it longer."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        settings = rehearsal_settings(host)
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front,
                                    timeouts=dataclasses.replace(settings.timeouts,
                                                                 command=0.0001))
    assert outcome is not Outcome.DONE
    said = detail(front, "preflight")
    assert front.final_state("preflight") == "failed", front.states[-3:]
    assert said.strip(), "the step's end says why"
    assert "no result within" in said and "[timeouts]" in said and "nothing changed" in said


PREFLIGHT_UNREADABLE_ZIP = """
import asyncio, dataclasses, sys
from pathlib import Path
from tests.rehearsal import rehearsal_host, rehearsal_settings
from tests.scripted import ScriptedFrontEnd
from tests.test_steps import run_only, detail

async def main(folder: Path) -> None:
    async with rehearsal_host(folder) as host:
        settings = rehearsal_settings(host)
        unreadable = folder / settings.distribution.name
        unreadable.write_bytes(settings.distribution.read_bytes())
        unreadable.chmod(0)
        front = ScriptedFrontEnd()
        await run_only(host, ["preflight"], folder / "j.jsonl", front,
                       distribution=unreadable)
        print(front.final_state("preflight"), detail(front, "preflight"), sep="|")

asyncio.run(main(Path(sys.argv[1])))
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_a_distribution_this_machine_cannot_read_is_said_so(tmp_path: Path) -> None:
    """Bad-input trial: an unreadable zip failed preflight as a file that "says
    no release ... is it the Red5 Pro server distribution?". Root reads any
    file: run without root's override of file modes, as the trial did."""
    done = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
         PREFLIGHT_UNREADABLE_ZIP, str(tmp_path)], cwd=Path(__file__).parents[1],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    state, said = done.stdout.strip().splitlines()[-1].split("|", 1)
    assert state == "failed", said
    assert "cannot be read" in said and "Permission denied" in said, said
    assert "says no release" not in said, said


def test_the_snapshot_step_cannot_be_skipped() -> None:
    """Operator trial: `s` on export-config took any reason; the cutover then
    refused at delete-nodegroups for want of a snapshot, whose question
    offered only a retry that could not succeed, and stop. Nothing else makes
    the snapshot recreate and the way back rebuild from."""
    from steps.prepare import ExportConfig

    assert not ExportConfig().skippable


async def test_a_4_0_build_saying_a_delete_is_under_way_with_400_is_waited_for() -> None:
    """Facts audit 59b (L4): the 4.0 docs give a DELETE's failure as "400 or
    404" (DC rest-api-v-400 delete-group.md), and the rehearsal's 4.0 answers
    400 for a request it cannot act on; runbook took "already being
    terminated" as a delete under way only with 404. A build that says it
    with 400 would fail the step on a DELETE sent again. Only a canned answer
    shows it: the rehearsal's 4.0 says it with 404, as 5.1.1 and 6.2.0 do."""
    import httpx

    from runbook.smapi import StreamManagerAPI
    from steps.cutover import delete_nodegroup

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the listing looked at first: still there, 4.0's "active"
            return httpx.Response(200, json=[{"name": "ng-1", "state": "active"}])
        return httpx.Response(400, json={"errorMessage": "Unable delete node group This group "
                                         "is already being terminated.", "timestamp": 1})

    api = StreamManagerAPI("http://sm.test", "tok-123456", "4.0",
                           transport=httpx.MockTransport(handler))
    async with api:
        said = await delete_nodegroup(api, "ng-1")
    assert said.startswith("ng-1: being deleted already"), said


async def test_a_delete_the_api_says_is_under_way_already_is_waited_for(
        tmp_path: Path) -> None:
    """Facts audit: a second DELETE of a nodegroup being deleted answers 404
    "This group is already being terminated" (5.1.1 and 6.2.0), and the step
    knew the group was going only by its "terminating" state, which the 4.0
    docs never show (their delete answer says "active"). A resumed run there
    would send the DELETE again, fail on the 404 with the stream manager
    down, and offer nothing but the way back. The API's own answer says the
    group is on its way out: the step waits for it as for one it deleted."""
    from runbook.smapi import StreamManagerAPI
    from steps.cutover import delete_nodegroup

    async with rehearsal_host(tmp_path) as host, \
            StreamManagerAPI(host.api_base_url, host.api_token) as api:
        group = (await api.list_nodegroups())[0]["name"]
        first = await api.delete_nodegroup(group)
        assert first["state"] == "terminating", first
        said = await delete_nodegroup(api, group)
        assert "already" in said, said
        assert group in [g["name"] for g in await api.list_nodegroups()], \
            "still on its way out: the step's wait sees it go"


async def test_a_delete_of_a_nodegroup_gone_already_is_no_failure(tmp_path: Path) -> None:
    """Review 58a L3: a DELETE's 404 was read by its words alone ("already
    being terminated"). A group gone by the time its DELETE landed (an empty
    one, which a first DELETE whose answer was lost removes at once) answered
    a 404 without them and failed the step, with the stream manager down. The
    listing decides now: a group it no longer lists is gone, as the step wants."""
    from runbook.smapi import StreamManagerAPI
    from steps.cutover import delete_nodegroup

    async with rehearsal_host(tmp_path) as host, \
            StreamManagerAPI(host.api_base_url, host.api_token) as api:
        listed = [g["name"] for g in await api.list_nodegroups()]
        assert "gone-already" not in listed
        said = await delete_nodegroup(api, "gone-already")
    assert said.startswith("gone-already: ") and "gone" in said, said


@pytest.mark.parametrize(("detail", "going"), [
    ("Unable delete node group This group is already being terminated.", True),
    ("nodegroup g1 does not exist", False)])
async def test_a_404_for_a_group_listed_as_active_is_read_by_the_apis_own_words(
        detail: str, going: bool) -> None:
    """Review 58a L3: where the listing shows no "terminating" (the 4.0 docs
    never show that state), the API's own errorMessage is what says a delete
    is under way (FACTS-scenarios section 4); it is read apart from runbook's
    sentence around it, and any other 404 of a listed group still fails. A
    stand-in for the API: no 4.0 build here lists a group so."""
    from runbook.smapi import SMApiError
    from steps.cutover import delete_nodegroup

    class Api:
        async def delete_nodegroup(self, name: str) -> dict[str, Any]:
            raise SMApiError(f"Not found (HTTP 404): DELETE {name}: {detail}", 404,
                             detail=detail)

        async def list_nodegroups(self) -> list[dict[str, Any]]:
            return [{"name": "g1", "state": "active"}]

    if going:
        assert "already" in await delete_nodegroup(Api(), "g1")  # type: ignore[arg-type]
    else:
        with pytest.raises(SMApiError, match="does not exist"):
            await delete_nodegroup(Api(), "g1")  # type: ignore[arg-type]


_TO_PROPERTIES = ["preflight", "upload", "unpack", "properties"]


async def test_a_config_set_of_another_kind_than_the_live_value_names_the_config(
        tmp_path: Path) -> None:
    """Review: a [properties] set value of another kind than the live file's
    (the template has a placeholder there, so only the step can know) was
    refused in --set's words, which the operator never typed."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, _TO_PROPERTIES, tmp_path / "j.jsonl", front,
                                    property_overrides={"aws.defaultVPC": "yes"})
        settings = rehearsal_settings(host)
    assert outcome is Outcome.FAILED
    said = detail(front, "properties")
    assert said.startswith(f"{settings.source} [properties] set aws.defaultVPC: the live file "
                           "has false"), said
    assert "--set" not in said, said


async def test_a_config_set_of_a_key_neither_file_has_is_named_before_the_merge(
        tmp_path: Path) -> None:
    """Operator trial: a typo in [properties] set went in as a new key, and
    the key meant kept its old value, with nothing said; `diff --set` names
    it with the closest known key."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        await run_only(host, _TO_PROPERTIES, tmp_path / "j.jsonl", front,
                       property_overrides={"streammanager.iq": "10.9.9.9"})
    said = [line for line in front.text().splitlines() if "streammanager.iq" in line
            and "neither file" in line]
    assert said and "streammanager.ip" in said[0], front.text()


async def test_a_merge_left_open_names_every_open_key_and_the_way_on(tmp_path: Path) -> None:
    """Operator trial: left with keys to decide and a new default to confirm,
    the failure named only the keys to decide (the review, opened again,
    showed three), and sent the operator to `runbook diff OLD NEW`, words to
    fill in, where trying the step again reopens the review."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, facts = await run_only(host, _TO_PROPERTIES, tmp_path / "j.jsonl", front,
                                        decisions=None, headless=True)
    assert outcome is Outcome.FAILED
    review = facts.scratch.properties_review
    assert review is not None and review.undecided and review.unconfirmed
    said = detail(front, "properties")
    for key in review.open_keys:
        assert key in said, (key, said)
    assert "OLD NEW" not in said and "try the step again" in said.lower(), said
    assert "runbook diff" in said, "headless has no editor: the decisions file is the way"
    assert "(s)" not in said, said


def test_start_services_planned_restart_gives_the_reason_the_check_found() -> None:
    """Operator trial: tried again after the new release started without its
    database, the plan said it had "run longer than the limit without its API
    answering", which it had not: it restarts because the database is back."""
    from runbook.config import load
    from runbook.step import PlanContext
    from steps.start_service import StartService

    settings = load(Path(__file__).parents[1] / "sample-configs/production.example.toml")
    facts = Red5Facts(restart_service=True, started_without_database=True)
    plan = StartService().plan(PlanContext(settings, lambda *a, **k: "", facts))
    said = plan[0].render()
    assert "database" in said and "longer than the limit" not in said, said
    facts = Red5Facts(restart_service=True)
    said = StartService().plan(PlanContext(settings, lambda *a, **k: "", facts))[0].render()
    assert "longer than the limit" in said, said


async def test_delete_nodegroups_names_each_group_by_its_regions_and_launch_config(
        tmp_path: Path) -> None:
    """TUI trial: the irreversible step's plan named each nodegroup by its id
    alone; the snapshot knows its regions, launch config and origins."""
    from runbook.model import ApiCall

    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd({"delete-nodegroups": Decision(Answer.STOP)})
        outcome, _ = await run_only(host, ["preflight", "export-config", "delete-nodegroups"],
                                    tmp_path / "j.jsonl", front)
    assert outcome is Outcome.STOPPED
    deletes = [a for a in front.plans["delete-nodegroups"]
               if isinstance(a, ApiCall) and a.method == "DELETE"]
    assert deletes and all("regions " in a.why and "launch config red5pro-" in a.why
                           for a in deletes), [a.why for a in deletes]


async def test_service_unit_carries_the_hosts_heap_and_open_file_limit_into_the_new_unit(
        tmp_path: Path) -> None:
    """Operator trial (stop 51): service-unit put the release's stock unit in
    place of one tuned as Red5's 10.9.2-11.x installer tunes it (its heap set
    to the memory it was given, LimitNOFILE=1000000: FACTS-scenarios §1), so
    the new stream manager came up with a 2g heap, unsaid. The host's values
    are carried into the release's unit, and said; resumed, the tuned unit is
    the release's, installed already."""
    from runbook.rehearsal.sandbox import unit_file

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        unit = unit_file(host.sandbox)
        tuned = unit.read_text().replace("-Xms2g -Xmx2g", "-Xms8g -Xmx12g") \
            .replace("LimitNOFILE=65536", "LimitNOFILE=1000000")
        assert tuned != unit.read_text()
        unit.write_text(tuned)
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-2000:]
        installed = unit.read_text()
        shipped = (host.install_dir / "red5pro" / "red5pro.service").read_text()
        assert " -Xms8g -Xmx12g " in installed and "\nLimitNOFILE=1000000\n" in installed, \
            installed
        assert installed == shipped.replace("-Xms2g -Xmx2g", "-Xms8g -Xmx12g") \
            .replace("LimitNOFILE=65536", "LimitNOFILE=1000000")
        said = " ".join(info_of(first, "service-unit")) + detail(first, "service-unit")
        assert "-Xmx12g" in said and "LimitNOFILE=1000000" in said, said
        second = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        await rehearse(host, second, journal, resume=replay(journal))
        assert unit.read_text() == installed
    preflight = [line for step, _stream, line in second.lines if step == "preflight"]
    assert any("already is the red5pro.service the new release ships" in line
               for line in preflight), preflight


async def test_an_ordinary_start_is_not_called_a_webapp_perhaps_not_deployed(
        tmp_path: Path) -> None:
    """Operator trial (stop 51): while the new release booted as it always
    does, start-service said "No Stream Manager API answered ...; is the
    streammanager webapp deployed there?", a question to alarm at 2 a.m.
    about a wait that was going as it should. A booting server refuses
    connections (facts audit 59b, H1): said as such, not as a webapp that did
    not load. Under jsvc's -wait, Red5's units, `systemctl start` returns once
    the server serves, and there is nothing to wait for: the sandbox's units
    leave it out, so that the boot is waited for here."""
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        front = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
        assert await rehearse(host, front, tmp_path / "run.jsonl") is Outcome.STOPPED
    said = info_of(front, "start-service")
    assert any("does not answer yet" in line for line in said), said
    assert not any("deployed there?" in line or "did not load" in line for line in said), said


async def test_preflight_says_a_tuned_unit_is_the_releases_only_with_its_tuning(
        tmp_path: Path) -> None:
    """Re-trial (stop 51): 10.9 to 11.1, the live unit tuned as Red5's
    installer tunes it (otherwise the same unit as 11.1 ships), preflight
    said it "already is the red5pro.service the new release ships", untrue
    in its heap and open-file limit, and said nothing of carrying them."""
    from runbook.rehearsal.sandbox import unit_file

    async with rehearsal_host(tmp_path, scenario="10.9-to-11.1") as host:
        unit = unit_file(host.sandbox)
        # Red5's installer tuned it (the rehearsal's 10.9 install: -Xms5g,
        # LimitNOFILE=1000000); the operator raised the heap again since.
        unit.write_text(unit.read_text().replace("-Xms5g -Xmx5g", "-Xms8g -Xmx8g"))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
    said = [line for line in info_of(front, "preflight") if "red5pro.service" in line]
    assert said and all("-Xmx8g" in line and "LimitNOFILE=1000000" in line
                        for line in said), said


async def test_preflight_warns_of_what_the_host_added_to_its_unit_and_the_release_drops(
        tmp_path: Path) -> None:
    """Stop 51 left it: a flag or an Environment= the operator added to the
    live unit was not carried into the new release's unit, and nothing said
    so. Preflight names each (never its value) before the window."""
    from runbook.rehearsal.sandbox import unit_file

    async with rehearsal_host(tmp_path, scenario="10.9-to-11.1") as host:
        unit = unit_file(host.sandbox)
        unit.write_text(unit.read_text().replace(
            " -Xms5g", " -Dred5.extra=hunter2 -Xms5g").replace(
            "LimitNOFILE", "Environment=LICENSE_KEY=hunter2\nLimitNOFILE"))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
        journal = (tmp_path / "j.jsonl").read_text()
    said = [line for line in info_of(front, "preflight")
            if "Environment LICENSE_KEY" in line and "ExecStart -Dred5.extra" in line]
    assert said and "red5pro.service.bak" in said[0], info_of(front, "preflight")
    assert "hunter2" not in front.text() and "hunter2" not in journal


def test_a_file_written_in_the_second_a_service_started_counts_as_written_after_it() -> None:
    """The service started at 100.9 s and the operator's fix was written at
    100.95 s; looked at at 102.1 s, `date +%s` says 102 and ps 1 s of running
    time: the start reads as 101, and the fix (100) as older, so start-service
    refused the restart that would read it (test_faults failed so under load)."""
    from steps.service_looks import _started_and_written, written_after_start

    assert written_after_start(102, 100, 1, slack=1)
    assert written_after_start(102, 101, 1, slack=1)
    assert not written_after_start(110, 100, 1, slack=1)
    # Told finely (/proc), a file written 0.5 s before the start is older
    # (the full suite, stop 52: the properties step's own write, read as
    # newer, restarted a serving release for a wrong token in the shell),
    # and one 0.05 s after it newer.
    said = "102.10\n100.40\n5000.00\n100\n499880\n499900\n"  # started at 100.90
    now, changed, ran_for = _started_and_written(said, 2) or (0.0, 0.0, 0.0)
    assert abs(ran_for - 1.2) < 1e-6
    assert not written_after_start(now, changed, ran_for, slack=0.02)
    assert written_after_start(now, 100.95, ran_for, slack=0.02)
    assert _started_and_written("102.N\n100\n", 1) is None


def test_the_command_that_drops_the_new_database_goes_over_tcp_to_a_localhost_one() -> None:
    """Second review (stop 52): after the way back, the command given to drop
    the new cluster database had no --protocol=tcp. With the new database at
    localhost:3307 beside the live one on the default socket, mysql takes the
    socket whatever -P says: the live cluster database, just brought back,
    would have been dropped. runbook's own client always says TCP."""
    from runbook.config import load
    from steps.cutover import Recreate

    settings = dataclasses.replace(
        load(Path(__file__).parents[1] / "sample-configs/production.example.toml"),
        new_db_host="localhost", new_db_port=3307)
    said = Recreate().leaves(settings, Red5Facts(db_user="smadmin"))
    assert ("mysql --protocol=tcp -h localhost -P 3307 -u smadmin -p -e "
            "'DROP DATABASE cluster'") in said.to_do, said


async def test_preflight_says_it_cannot_tell_what_was_added_to_a_unit_written_by_hand(
        tmp_path: Path) -> None:
    """Second review (stop 52): before 9.0 a release ships no unit (the
    operator writes it from the install page, FACTS §3), so nothing tells a
    line the operator added from one the page gave, and preflight said
    nothing, while the README promised such lines are named. It says what it
    cannot tell, and where the old unit will be to compare."""
    async with rehearsal_host(tmp_path) as host:  # 6.2 to 11.1: a unit from the page
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.DONE, front.text()[-2000:]
    said = [line for line in info_of(front, "preflight") if "cannot tell" in line]
    assert said and "red5pro.service.bak" in said[0], info_of(front, "preflight")


async def test_a_new_database_that_is_the_live_one_is_refused_at_preflight(
        tmp_path: Path) -> None:
    """Trial 54 F11: [new_database] copied from the live config.dbHost and
    config.dbPort. new-database took the live fleet for an earlier attempt's
    leftovers and printed a DROP DATABASE for production's database. Preflight
    reads the live properties: it refuses there, before anything changes."""
    async with rehearsal_host(tmp_path) as host:
        live_host, live_port = host.old_db
        front = ScriptedFrontEnd()
        # A config file of one's own (runbook run against a rehearsal host):
        # `runbook rehearse`'s own names the new database itself.
        outcome, _ = await run_only(host, step_ids(), tmp_path / "j.jsonl", front,
                                    new_db_host=live_host, new_db_port=live_port,
                                    rehearsal_scenario=None)
        assert outcome is Outcome.FAILED
        assert front.final_state("preflight") == "failed"
        said = detail(front, "preflight")
        assert f"{live_host}:{live_port}" in said
        assert "the live stream manager uses" in said
        assert "config.dbHost" in said and "[new_database]" in said
        assert "new-database" not in front.asked
        assert "DROP DATABASE" not in front.text()


async def test_a_rehearsal_host_upgraded_already_is_said_so_not_a_config_to_edit(
        tmp_path: Path) -> None:
    """Operator trial 57 (F19): `runbook run` had upgraded the rehearsal host
    of a --sandbox, and `runbook rehearse --sandbox` on it was refused with
    "[new_database] in /CWD/rehearsal.toml names it too": no such file (the
    rehearsal builds its config in memory), and advice that cannot be
    followed. The rehearsal says its host is upgraded already, and to start
    a fresh one."""
    from runbook.rehearsal import sandbox

    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / sandbox.WEBINF / "red5-web.properties"
        text = live.read_text(encoding="latin-1")
        text = re.sub(r"(?m)^config\.dbHost=.*$", f"config.dbHost={host.new_db[0]}", text)
        text = re.sub(r"(?m)^config\.dbPort=.*$", f"config.dbPort={host.new_db[1]}", text)
        live.write_text(text, encoding="latin-1")
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "new-database"], tmp_path / "j.jsonl",
                                    front)
    assert outcome is Outcome.FAILED
    said = detail(front, "preflight")
    assert "rehearsal.toml" not in said and "[new_database]" not in said, said
    assert "this rehearsal host is upgraded already" in said, said
    assert "--sandbox" in said, said
    assert "DROP DATABASE" not in front.text()


async def test_new_database_refuses_the_live_one_when_preflight_did_not_look(
        tmp_path: Path) -> None:
    """The same, at new-database (a config changed between runs, preflight
    not run again): refused before any query, and no DROP DATABASE said,
    with no port in the config (the live file's port is the one it means)."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["new-database", "schema"], tmp_path / "j.jsonl",
                                    front, new_db_host=host.old_db[0], new_db_port=None,
                                    rehearsal_scenario=None)  # a config file of one's own
        assert outcome is Outcome.FAILED
        said = detail(front, "new-database")
        assert f"{host.old_db[0]}:{host.old_db[1]}" in said
        assert "the live stream manager uses" in said
        assert "schema" not in front.asked
        assert "DROP DATABASE" not in front.text()
        assert not [line for _s, _st, line in front.lines if "SELECT" in line]


def test_the_new_database_is_the_live_one_by_host_and_port() -> None:
    """What is compared: the host as written (case aside; localhost and the
    loopback addresses alike), and the port, 3306 where the live file gives
    none; a hostname and an address of one machine cannot be told apart."""
    from steps.database import live_database_refusal

    def same(new_host: str, new_port: int | None, props: dict[str, str]) -> bool:
        return live_database_refusal(new_host, new_port, props, "/x/red5-web.properties",
                                     "/c.toml") is not None

    live = {"config.dbHost": "db.example", "config.dbPort": "3307"}
    assert same("db.example", 3307, live)
    assert same("DB.example", None, live)  # no port given: the live file's is taken
    assert not same("db.example", 3306, live)
    assert not same("db2.example", 3307, live)
    assert same("db.example", 3306, {"config.dbHost": "db.example"})  # 3306 by default
    assert not same("db.example", 3307, {"config.dbHost": "db.example"})
    assert same("127.0.0.1", 3306, {"config.dbHost": "localhost", "config.dbPort": "3306"})
    assert not same("127.0.0.3", 3306, {"config.dbHost": "127.0.0.2", "config.dbPort": "3306"})


async def test_preflight_refuses_another_stream_managers_api_before_sending_it_anything(
        tmp_path: Path) -> None:
    """Trial 54 F28: [api] base_url and the token of ANOTHER stream manager
    passed preflight, and delete-nodegroups deleted that one's fleet. The
    token given must be the live file's rest.administratorToken (compared
    before any request, never shown); and the API answering must speak the
    version the live release serves (6.2.0: 3.1, never 4.0)."""
    async with rehearsal_host(tmp_path / "a") as host, \
            rehearsal_host(tmp_path / "b", scenario="10.9-to-11.1") as other:
        theirs = dataclasses.replace(rehearsal_settings(host),
                                     api_base_url=other.api_base_url)
        front = ScriptedFrontEnd()
        run = Session(theirs, [s for s in procedure() if s.id == "preflight"], Red5Facts(),
                      token=other.api_token, journal_path=tmp_path / "j1.jsonl",
                      state_dir=host.sandbox / ".operator", isolated=True)
        assert await run.run(front) is Outcome.FAILED
        said = detail(front, "preflight")
        assert "rest.administratorToken" in said and "[api] base_url" in said, said
        assert other.api_token not in front.text() and host.api_token not in front.text()
        assert "answers" not in " ".join(info_of(front, "preflight"))

        # The live file's token made the other one's: its version gives it away.
        live = host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
        live.write_text(live.read_text().replace(
            f"rest.administratorToken={host.api_token}",
            f"rest.administratorToken={other.api_token}"))
        front = ScriptedFrontEnd()
        run = Session(theirs, [s for s in procedure() if s.id == "preflight"], Red5Facts(),
                      token=other.api_token, journal_path=tmp_path / "j2.jsonl",
                      state_dir=host.sandbox / ".operator", isolated=True)
        assert await run.run(front) is Outcome.FAILED
        said = detail(front, "preflight")
        assert "4.0" in said and "3.1" in said and "[api] base_url" in said, said
        assert other.api_token not in front.text()


async def test_preflight_takes_the_live_token_as_java_reads_it_trailing_blanks_and_all(
        tmp_path: Path) -> None:
    """Review 54b L3: Java's Properties keeps a value's trailing blanks, and
    the token is sent so; preflight stripped the live one but not the one
    given, and refused an operator who exported it exactly."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
        live.write_text(live.read_text().replace(
            f"rest.administratorToken={host.api_token}",
            f"rest.administratorToken={host.api_token}  "))
        front = ScriptedFrontEnd()
        settings = rehearsal_settings(host)
        run = Session(settings, [s for s in procedure() if s.id == "preflight"], Red5Facts(),
                      token=host.api_token + "  ", journal_path=tmp_path / "j.jsonl",
                      state_dir=host.sandbox / ".operator", isolated=True)
        await run.run(front)
        said = detail(front, "preflight")
        assert "is not the rest.administratorToken" not in said, said
        assert host.api_token not in front.text()


async def test_preflight_refuses_a_token_given_without_the_blanks_the_live_one_ends_in(
        tmp_path: Path) -> None:
    """6.2.0 compares the token with the file's exactly, trailing blanks and
    all (facts audit 61, F5): preflight took the trimmed form as the file's
    too, and the run went on to a 401. It refuses, saying so."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
        live.write_text(live.read_text().replace(
            f"rest.administratorToken={host.api_token}",
            f"rest.administratorToken={host.api_token}  "))
        front = ScriptedFrontEnd()
        settings = rehearsal_settings(host)
        run = Session(settings, [s for s in procedure() if s.id == "preflight"], Red5Facts(),
                      token=host.api_token, journal_path=tmp_path / "j.jsonl",
                      state_dir=host.sandbox / ".operator", isolated=True)
        assert await run.run(front) is Outcome.FAILED
        said = detail(front, "preflight")
        assert "blanks" in said and "exactly" in said, said
        assert host.api_token not in front.text()


async def test_a_token_typed_at_the_prompt_is_refused_as_typed_not_as_the_variable(
        tmp_path: Path) -> None:
    """Operator trial 60 (F13): SM_API_TOKEN not set, a wrong token typed at
    runbook's prompt; preflight called it "the API token given
    ($SM_API_TOKEN)" and said to give $SM_API_TOKEN the right one: the
    operator looks for an export that is not there. It names the prompt."""
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        settings = dataclasses.replace(rehearsal_settings(host), rehearsal_scenario=None,
                                       token_typed=True)
        run = Session(settings, [s for s in procedure() if s.id == "preflight"], Red5Facts(),
                      token="not-the-token", journal_path=tmp_path / "j.jsonl",
                      state_dir=host.sandbox / ".operator", isolated=True)
        assert await run.run(front) is Outcome.FAILED
        said = detail(front, "preflight")
        assert "the API token you typed" in said, said
        assert "$SM_API_TOKEN" not in said, said
        assert "type" in said.split("; ")[-1] and "export SM_API_TOKEN=" in said, said


def test_a_token_is_typed_where_its_variable_holds_none() -> None:
    from runbook.config import api_token, load, token_was_typed
    from tests.example_config import EXAMPLE

    settings = load(EXAMPLE)
    assert api_token(settings, environ={}, prompt=lambda _: "typed") == "typed"
    assert token_was_typed(settings, environ={})
    assert token_was_typed(settings, environ={"SM_API_TOKEN": "  "})
    assert not token_was_typed(settings, environ={"SM_API_TOKEN": "set"})


async def test_a_live_port_that_is_not_a_number_is_refused_in_words(tmp_path: Path) -> None:
    """Review 54b L8: with no [new_database] port, a config.dbPort that is not
    a number raised ValueError out of database.login (an internal error)."""
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
        live.write_text(re.sub(r"(?m)^config\.dbPort=.*$", "config.dbPort=33o6",
                               live.read_text()))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight", "new-database"], tmp_path / "j.jsonl",
                                    front, new_db_port=None)
        assert outcome is Outcome.FAILED
        said = detail(front, "new-database")
        assert "config.dbPort" in said and "33o6" in said and "[new_database]" in said, said
        assert "ValueError" not in front.text()


async def test_preflight_says_a_blank_live_token_refuses_every_admin_call(
        tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        live = host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
        live.write_text(live.read_text().replace(
            f"rest.administratorToken={host.api_token}", "rest.administratorToken="))
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front)
        assert outcome is Outcome.FAILED
        said = detail(front, "preflight")
        assert "rest.administratorToken" in said and "blank" in said, said
        assert host.api_token not in front.text()


def test_the_way_back_waits_for_the_old_releases_api_not_the_one_preflight_heard() -> None:
    """Trial 54 F28 follow-up: a preflight that heard API 4.0 (another stream
    manager's) from a 6.2.0 install recorded it, and the way back then said
    "API 4.0 answers from the old install (6.2.0.b406)". The old release's
    version is Red5's table's, whatever an earlier run recorded."""
    from types import SimpleNamespace

    from steps.rollback import RecreateOld, StartOld

    p = SimpleNamespace(facts=Red5Facts(live_version="6.2.0.b406", api_version="4.0"))
    assert StartOld()._speaks(p) == "3.1"  # type: ignore[arg-type]
    assert RecreateOld()._speaks(p) == "3.1"  # type: ignore[arg-type]


def test_no_command_to_drop_the_live_database_is_given_after_a_way_back() -> None:
    """Trial 54 F11: after a way back, recreate says how to drop the new
    database's cluster database; where the config names the live database
    (changed since preflight, or a `runbook rollback` with another config),
    no DROP DATABASE is given for it."""
    from types import SimpleNamespace

    from steps.cutover import Recreate

    facts = Red5Facts(live_db_host="db.live", live_db_port=3306, db_port=3306, db_user="sm")
    said = Recreate().leaves(SimpleNamespace(  # type: ignore[arg-type]
        new_db_host="DB.live", new_db_port=None), facts)
    assert "DROP DATABASE" not in said.sentence, said
    assert "live stream manager's database" in said.stays, said
    said = Recreate().leaves(SimpleNamespace(  # type: ignore[arg-type]
        new_db_host="db.new", new_db_port=None), facts)
    assert "DROP DATABASE" in said.to_do, said


def test_the_refusal_of_the_live_database_says_the_port_it_took() -> None:
    from steps.database import live_database_refusal

    said = live_database_refusal("db.live", 3306, {"config.dbHost": "db.live"},
                                 "/x/red5-web.properties", "/c.toml")
    assert said is not None and "db.live:3306" in said
    assert "with no config.dbPort, so port 3306" in said and "/c.toml" in said, said


async def test_a_short_live_password_is_masked_as_a_value_and_the_run_says_it_cannot_be_more(
    tmp_path: Path
) -> None:
    """Review 55 L5: a 3-character config.dbPass was never registered, so a
    command's output that named it (a properties line) reached the journal and
    the report in clear, and nothing said the password could not be masked."""

    from runbook.model import Check, Shell
    from runbook.report import build
    from runbook.step import Step

    async with rehearsal_host(tmp_path) as host:
        live = host.install_dir / "red5pro" / "webapps/streammanager/WEB-INF/red5-web.properties"
        user, password = host.db_account
        data = live.read_text(encoding="latin-1")
        assert f"\nconfig.dbPass={password}\n" in data
        live.write_text(data.replace(f"\nconfig.dbPass={password}\n", "\nconfig.dbPass=Q7z\n"),
                        encoding="latin-1")
        for database in (host.databases.old, host.databases.new):
            await database.set_password(user, "Q7z")
        shows = f"grep -h '^config.dbPass' {live}"

        class ShowsTheLiveLogin(Step):
            id = "shows-login"
            title = "Shows the live login"
            phase = Phase.PREPARE
            summary = "prints the live file's login lines"

            def plan(self, p: object) -> list[Action]:
                return [Shell(shows, "the live login")]

            async def check(self, ctx: object) -> Check:
                return Check(False, "not shown yet")

            async def run(self, ctx: Any) -> None:
                await ctx.sh(shows)

            async def verify(self, ctx: object) -> Check:
                return Check(True, "shown")

        front = ScriptedFrontEnd()
        journal = tmp_path / "j.jsonl"
        steps = [*[s for s in procedure() if s.id == "preflight"], ShowsTheLiveLogin()]
        run = Session(rehearsal_settings(host), steps, Red5Facts(), token=host.api_token,
                      journal_path=journal, state_dir=host.sandbox / ".operator",
                      isolated=True)
        assert await run.run(front) is Outcome.DONE, front.states[-3:]
        said = journal.read_text(encoding="utf-8")
        for sink in (said, front.text()):
            assert "config.dbPass=Q7z" not in sink
            assert "config.dbPass=" in sink
        told = [line for step, stream, line in front.lines
                if stream == "info" and "config.dbPass" in line and "4 characters" in line]
        assert len(told) == 1 and told[0].startswith("warning:"), front.lines
        assert "Q7z" not in told[0]
        assert told[0] in said
        assert told[0] in [warning.text for warning in build(journal).warnings]


async def test_preflight_refused_at_the_api_address_names_the_setting_to_check(
        tmp_path: Path) -> None:
    """Operator trial 57, F12: base_url one port off, preflight said to try
    again "once the API answers", with [t]: the live stream manager answers,
    on another port, and the config is read once. Before the window a live
    stream manager that does not answer is the config's address, or a stream
    manager that is down: the line names [api] base_url and the file."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome, _ = await run_only(host, ["preflight"], tmp_path / "j.jsonl", front,
                                    api_base_url=f"http://127.0.0.1:{closed}",
                                    rehearsal=False, source=str(tmp_path / "sm1.toml"))
    assert outcome is Outcome.FAILED, front.text()[-2000:]
    said = detail(front, "preflight")
    assert "[api] base_url" in said and str(tmp_path / "sm1.toml") in said, said
    assert "once the API answers" not in said, said


@pytest.mark.parametrize(("error", "said", "not_said"), [
    ("ERROR 2005 (HY000): Unknown server host 'sm-db-2.invalid' (-2)",
     "cannot resolve sm-db-2.invalid", "firewall"),
    ("ERROR 2003 (HY000): Can't connect to MySQL server on '10.0.0.9' (115)",
     "firewall or security group", "cannot resolve")])
def test_a_new_database_not_reached_says_what_to_check_for_its_cause(
        error: str, said: str, not_said: str) -> None:
    """Operator trial 57, F11: a host name that does not resolve was sent to
    the firewall. It names [new_database] host in the config; a connection
    that fails names the address, the instance and the firewall together (the
    client's (115) does not tell a refusal from a filter)."""
    from runbook.shell import CommandResult
    from steps.database import Login, failure

    result = CommandResult("mysql", 1, "", error)
    where = Login("smadmin", "pw", "sm-db-2.invalid", 3306)
    text = failure(result, where, cutover_under_way=False, config="/ops/sm1.toml")
    assert said in text and not_said not in text, text
    assert "[new_database]" in text and "/ops/sm1.toml" in text, text


@pytest.mark.parametrize("state", ["active", "new", "terminating"])
async def test_a_taken_delete_is_said_as_taken_not_by_the_state_its_answer_carries(
        state: str) -> None:
    """The DELETE's answer is the group as it was: the 4.0 docs' says
    "active", and an empty group's last state is new or active. Said as
    "NAME: active", a DELETE that worked read as one that did nothing (facts
    audit 61, F2); only "terminating" is worth adding."""
    from steps.cutover import delete_nodegroup

    async def send() -> dict[str, Any]:
        return {"name": "g1", "state": state}

    said = await delete_nodegroup(None, "g1", send=send)  # type: ignore[arg-type]
    assert said.startswith("g1: ") and "DELETE" in said, said
    assert ("terminating" in said) is (state == "terminating"), said
    assert state == "terminating" or state not in said, said


async def test_a_custom_scaleout_threshold_of_a_3x_live_is_saved_and_named_by_recreate(
        tmp_path: Path) -> None:
    """The old stream manager's edge threshold is 75 %, not cluster.sql's 60:
    6.2.0 reads it (GET admin/alarm/scaleout/default?type=edge), so
    export-config keeps it and recreate names it with the line that sets it
    again, where before it was lost unsaid (facts audit 61, F13)."""
    from runbook.rehearsal import cloud

    async with rehearsal_host(tmp_path) as host:
        with cloud.locked_state(host.sandbox) as state:
            state.database(*host.old_db)["scaleout_alarms"] = {"edge": 75.0}
        front = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        await rehearse(host, front, tmp_path / "run.jsonl")
        assert front.final_state("export-config") == "done", front.text()[-2000:]
        snapshots = sorted((host.sandbox / ".operator").rglob("snapshots/*.json"))
        data = json.loads(snapshots[-1].read_text())
        assert data.get("scaleout_alarms") == {"edge": 75.0, "origin": 60.0, "relay": 60.0,
                                               "transcoder": 60.0}, data.keys()
        settings = rehearsal_settings(host)
        preview = Session(settings, procedure(), Red5Facts(), token=host.api_token,
                           journal_path=tmp_path / "run.jsonl",
                           state_dir=host.sandbox / ".operator", isolated=True,
                           resume=replay(tmp_path / "run.jsonl")).preview()
        notes = [a.render() for a in preview["recreate"] or [] if "threshold" in a.render()]
        assert len(notes) == 1 and "edge: 75 %" in notes[0], notes
        assert "type=edge&threshold=75&accessToken=" in notes[0], notes


async def test_export_config_warns_of_a_nodegroup_whose_origin_connections_recreate_drops(
        tmp_path: Path) -> None:
    """5.1.1's and 6.2.0's create takes originConnections (FACTS-scenarios
    §4) and the listing shows it; recreate posts regions, launch config and
    scale policy only, so a group with origin connections came back without
    them, unsaid (facts audit 61, F9). export-config warns ahead."""
    from runbook.rehearsal import cloud

    async with rehearsal_host(tmp_path) as host:
        with cloud.locked_state(host.sandbox) as state:
            groups = state.database(*host.old_db)["nodegroups"]
            name = sorted(groups)[0]
            groups[name]["originConnections"] = 2
        front = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        await rehearse(host, front, tmp_path / "run.jsonl")
        assert front.final_state("export-config") == "done", front.text()[-2000:]
        said = [line for step, _, line in front.lines
                if step == "export-config" and "originConnections" in line]
        assert len(said) == 1 and name in said[0] and "2" in said[0], said


def test_recreates_alarm_line_is_a_curl_line_at_the_new_version_not_a_bare_path(
        tmp_path: Path) -> None:
    """Where the thresholds were not read (a 4.0 live, no snapshot yet), the
    way to set one again was a relative path with no /streammanager/api/,
    no token, unlike every call runbook shows, and named cluster.sql for a
    4.0 release whose cluster.sql no source gives (facts audit 61, F7)."""
    from runbook.config import load
    from tests.example_config import EXAMPLE

    settings = dataclasses.replace(load(EXAMPLE), new_api_version="4.0")
    plans = Session(settings, procedure(), Red5Facts(), token="t0ken-long",
                    journal_path=tmp_path / "j.jsonl", state_dir=tmp_path).preview()
    notes = [a.render() for a in plans["recreate"] or [] if "alarm" in a.render()]
    assert len(notes) == 1, notes
    assert "curl -sS -X POST" in notes[0] and \
        "/streammanager/api/4.0/admin/alarm/scaleout/default?type=" in notes[0], notes
    assert "cluster.sql" not in notes[0] and "60 %" in notes[0], notes


async def test_export_config_warns_where_a_groups_region_is_a_zone_its_nodes_run_in(
        tmp_path: Path) -> None:
    """recreate posts the listed regions as create's regions. 6.2.0 lists
    what was stored at creation, but the 4.0 docs' list example shows zone
    names where create posts region names (facts audit 61, F1): a listed
    region that is one of the group's nodes' availabilityZone is warned of."""
    from runbook.rehearsal import cloud

    async with rehearsal_host(tmp_path) as host:
        with cloud.locked_state(host.sandbox) as state:
            db = state.database(*host.old_db)
            name = sorted(db["nodegroups"])[0]
            node = state.instance(db["nodes"][name][0])
            assert node is not None
            zone = node["availabilityZone"]
            db["nodegroups"][name]["regions"] = [zone]
        front = ScriptedFrontEnd({"upload": Decision(Answer.STOP)})
        await rehearse(host, front, tmp_path / "run.jsonl")
        assert front.final_state("export-config") == "done", front.text()[-2000:]
        said = [line for step, _, line in front.lines
                if step == "export-config" and "availabilityZone" in line]
        assert len(said) == 1 and name in said[0] and zone in said[0], said
