"""start-service against a service that runs and never answers.

The new service was started by an earlier attempt while its database could
not be reached (a crash took the rehearsal's databases with it): its webapp
failed to deploy and it stays up, silent. The old runbook waited the whole
limit and failed on every resume; now the plan the operator confirmed
includes one restart when the service runs and does not answer in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.events import StepChanged
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.journal_replay import replay
from runbook.model import Action, Shell, StepReport
from runbook.rehearsal import armed, cloud, sandbox, service
from runbook.rehearsal.host import RehearsalHost
from tests.polling import until
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd


async def test_a_service_that_runs_without_answering_is_restarted_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=8))
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal, settings) is Outcome.STOPPED

        # Boot the new install while its database is unreachable.
        database = host._db.new
        address = database.address
        await database.stop()
        status, output = await host._run_shim("systemctl", "start", "red5pro")
        assert status == 0, output
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        await until(lambda: log.is_file() and "webapp is unavailable" in log.read_text(),
                    what="the webapp to give up on its database")
        await database.launch(*address)

        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, settings, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
    plan = [a.command for a in second.plans["start-service"] if isinstance(a, Shell)]
    assert plan[0].endswith("systemctl restart red5pro"), "restarted at once"
    # A webapp that did not load serves no API: HTTP 404, which a real server
    # answers only once its webapps have started (facts audit 59b, H1), so
    # the check says so and the step restarts it at once, not after a wait.
    assert "restarting it once" not in second.text()
    looked = [r["detail"] for r in (json.loads(line) for line in journal.read_text().splitlines())
              if r["event"] == "check" and r["step"] == "start-service"]
    assert any("webapp did not load (its API answers HTTP 404)" in d for d in looked), looked
    notes = " ".join(a.render() for a in second.plans["start-service"])
    assert "webapp did not load" in notes and "only a restart changes" in notes, notes


PROPERTIES = "webapps/streammanager/WEB-INF/red5-web.properties"


async def failed_start(tmp_path: Path, *, skipping: str | None, service_start: int,
                       placeholder_at: str | None = None,
                       port_3306_at: str | None = None,
                       live_database_at: str | None = None,
                       scenario: str | None = None,
                       look: Callable[[RehearsalHost], None] | None = None,
                       at_start: Callable[[RehearsalHost], None] | None = None,
                       front_end: type[ScriptedFrontEnd] = ScriptedFrontEnd,
                       ) -> ScriptedFrontEnd:
    """A rehearsal with `skipping` skipped and start-service given
    `service_start` seconds, stopped at start-service's failure: its front end.
    `placeholder_at`: as that cutover step is asked, the installed
    red5-web.properties gets the template's config.dbHost={host} back (a
    skipped properties step on the template as shipped no longer lets the
    cutover begin: trial 53). `port_3306_at`: as that step is asked, the
    installed file's config.dbPort is put back to the template's 3306 (a hand
    fix that set config.dbHost only: trial 54). `live_database_at`: as that
    step is asked, the installed file's config.dbHost and config.dbPort are set
    to the live database's, which is there and answers. `look`: called with
    the host once the run has ended, before it stops. `at_start`: called with
    the host as start-service is asked. `front_end`: the front end's class."""
    async with rehearsal_host(tmp_path, scenario=scenario) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, service_start=service_start))

        def put_back(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service" and at_start is not None:
                at_start(host)
            if step.id == placeholder_at:
                path = host.install_dir / "red5pro" / PROPERTIES
                path.write_text(re.sub(r"(?m)^config\.dbHost=.*$", "config.dbHost={host}",
                                       path.read_text()))
            if step.id == port_3306_at:
                path = host.install_dir / "red5pro" / PROPERTIES
                path.write_text(re.sub(r"(?m)^config\.dbPort=.*$", "config.dbPort=3306",
                                       path.read_text()))
            if step.id == live_database_at:
                path = host.install_dir / "red5pro" / PROPERTIES
                text = re.sub(r"(?m)^config\.dbHost=.*$", f"config.dbHost={host.old_db[0]}",
                              path.read_text())
                path.write_text(re.sub(r"(?m)^config\.dbPort=.*$",
                                       f"config.dbPort={host.old_db[1]}", text))

        answers = {skipping: Decision(Answer.SKIP, "rehearsing a mistake")} if skipping else {}
        front = front_end(answers, recoveries={"start-service": [Recovery.STOP]},
                          on_confirm=put_back)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        if look is not None:
            look(host)
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    return front


async def test_a_service_that_dies_at_boot_fails_the_step_at_once(tmp_path: Path) -> None:
    """Without the license key carry-over copies, the new server exits as it
    starts: systemd marks the unit failed, and waiting out the limit (twice,
    with the restart) would only keep the operator in the dark."""
    front = await failed_start(tmp_path, skipping="carry-over", service_start=60)
    assert front.final_state("start-service") == "failed"
    report = front.last_report("start-service")
    assert report.elapsed_s is not None and report.elapsed_s < 30, report
    said = report.detail.lower()
    # Under jsvc's -wait (the unit's -wait 60) the start itself fails, as the
    # JVM ends before its start() returns (facts audit 59b, M1): said with
    # red5.log's last line, as for a server that exits after the start.
    assert "systemd could not start red5pro" in said and "license key" in said, said
    assert "nothing runs now" in said, said


async def test_a_shipped_unit_that_jsvc_cannot_start_says_it_kept_no_output(
        tmp_path: Path) -> None:
    """Facts audit 57b (M1): the unit 10.9 and 11.1 ship sends jsvc's output to
    /dev/null, as Red5's own unit text does (DC "Linux Install - JDK 8": log
    files there are a change for debugging, "not recommended in production").
    The rehearsal's sent it to log/jsvc-error.log, so a failed 11.1 start
    pointed there, where a production host has no such file. Here jsvc finds
    no commons-daemon jar, as with a release missing it: systemd fails the
    start, and the step says jsvc kept nothing."""
    def lose_the_daemon_jar(host: RehearsalHost) -> None:
        (host.install_dir / "red5pro" / "commons-daemon-1.2.4.jar").unlink()

    seen: dict[str, bool] = {}

    def look(host: RehearsalHost) -> None:
        log = host.install_dir / "red5pro" / "log"
        seen.update(jsvc_logs=any(log.glob("jsvc-*.log")))

    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               at_start=lose_the_daemon_jar, look=look)
    said = front.last_report("start-service").detail
    assert "systemd could not start red5pro" in said, said
    assert "-errfile and -outfile are /dev/null: jsvc kept no output" in said, said
    # Facts audit 59b (M1): where `systemctl start` itself fails, red5.log's
    # last line and what to do follow, as for a server that exits after the
    # start (systemd's last status line alone before).
    assert "red5.log ends with: " in said and "Nothing runs now" in said, said
    assert "jsvc-error.log" not in front.text(), front.text()[-3000:]
    assert seen == {"jsvc_logs": False}


async def test_a_database_host_left_a_placeholder_is_named_when_the_service_will_not_answer(
        tmp_path: Path) -> None:
    """Re-trial (stop 50): with the properties step skipped, config.dbHost
    kept its {host}; start-service waited, restarted the service and ended
    with advice to try again or give it longer, which cannot mend it. (Skipped
    on the template as shipped, the cutover no longer begins, trial 53: the
    placeholder is put back after promote-new here.)"""
    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               placeholder_at="service-unit")
    report = front.last_report("start-service")
    said = report.detail
    assert "config.dbHost" in said and "{host}" in said and "properties" in said, said
    assert "longer" not in said, said
    # Facts audit 56a M2: a real 5.1.1 or 6.2.0 skips its database check on a
    # placeholder and loads, its API answering; so it is refused before the
    # start, not left to a service that would not answer.
    assert "did not start the service" in said and report.elapsed_s is not None \
        and report.elapsed_s < 10, report


async def test_a_database_port_other_than_the_new_databases_fails_the_step_at_once(
        tmp_path: Path) -> None:
    """Operator trial 54 (F16): config.dbPort left 3306 by a hand fix; the
    red5.log said from the first seconds which database the webapp used
    (dbURL = jdbc:mysql://127.0.0.3:3306/cluster), yet start-service waited its
    limit, restarted and waited it again, then advised a longer service_start.
    The file disagrees with [new_database]: said at once, with where to fix it
    and the way back."""
    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               port_3306_at="service-unit")
    report = front.last_report("start-service")
    assert report.elapsed_s is not None and report.elapsed_s < 30, report
    said = report.detail
    assert "127.0.0.3:3306" in said, said
    assert "config.dbHost" in said and "config.dbPort" in said and "[new_database]" in said, said
    assert PROPERTIES in said and "roll back" in said, said
    assert "longer" not in said and "restarting it once" not in front.text(), said


@pytest.mark.parametrize("scenario", ["6.2-to-11.1", "5.1-to-6.2"])
async def test_a_file_naming_another_database_that_answers_fails_the_step_before_the_start(
        tmp_path: Path, scenario: str) -> None:
    """Facts audit 56a H1: only 5.1.1's red5.log says which database its
    webapp uses (dbURL = ...); 6.2.0's does not. A new release whose file
    names the live database, which is there and answers, loads on it and its
    API answers: start-service passed, and the new stream manager ran on the
    old fleet's database. The file is compared with [new_database] before
    the service is started: the step fails at once, nothing started."""
    seen: dict[str, object] = {}

    def look(host: RehearsalHost) -> None:
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        seen["pid"] = host.service_pid()
        seen["log"] = log.read_text() if log.is_file() else ""
        seen["live"] = f"{host.old_db[0]}:{host.old_db[1]}"

    front = await failed_start(tmp_path, skipping=None, service_start=60, scenario=scenario,
                               live_database_at="service-unit", look=look)
    report = front.last_report("start-service")
    assert report.elapsed_s is not None and report.elapsed_s < 10, report
    said = report.detail
    assert str(seen["live"]) in said and "[new_database]" in said, said
    assert "config.dbHost" in said and "config.dbPort" in said and PROPERTIES in said, said
    assert "roll back" in said and "did not start the service" in said, said
    # Nothing was started: no server runs, and the new install logged no start.
    assert seen["pid"] is None and "starting from" not in str(seen["log"]), seen


async def test_a_file_refused_before_the_start_leaves_no_look_of_the_step_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review R2 (of 76de61d): red5.log's size is read beside the look at
    the file's database. Where that look fails the step, the size read was
    left running past the step's failure, into the operator's question
    (and, cut off by a lost link, it said 'looking again once reconnected'
    there, as start-service's). The step ends once both have. Only the
    round trip's length is stood in for (a slow link): the read is the
    step's own."""
    from typing import Any

    from steps import start_service

    read = start_service.log_size
    under_way: list[bool] = []

    async def over_a_slow_link(ctx: Any) -> int:
        under_way.append(True)
        try:
            await asyncio.sleep(2)
            return await read(ctx)
        finally:
            under_way.append(False)

    monkeypatch.setattr(start_service, "log_size", over_a_slow_link)
    at_question: list[bool] = []

    class Asked(ScriptedFrontEnd):
        async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
            if step.id == "start-service":
                at_question.append(under_way[-1])
            return await super().recover(step, can_roll_back=can_roll_back)

    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               live_database_at="service-unit", front_end=Asked)
    said = front.last_report("start-service").detail
    assert "did not start the service" in said, said
    assert at_question == [False], "the size read still ran as the operator was asked"


async def test_a_file_naming_another_database_is_said_though_the_log_size_read_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 64 (of 3624170): red5.log's size is read beside the look at the
    file's database, since this stop in the same look as the server listing.
    Where both failed (the file naming the live database, the size read cut
    off), the read's failure was raised first: the operator read a timeout
    where the file's own refusal, asked first before, says what to mend."""
    from typing import Any

    from runbook.step import StepFailed
    from steps import start_service

    async def cut_off(ctx: Any) -> int:
        raise StepFailed("the size read was cut off")

    monkeypatch.setattr(start_service, "log_size", cut_off)
    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               live_database_at="service-unit")
    said = front.last_report("start-service").detail
    assert "did not start the service" in said and "[new_database]" in said, said
    assert "cut off" not in said, said


async def test_the_logged_database_is_compared_as_same_database_compares_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 54b M2: the host red5.log's dbURL names was compared with
    [new_database]'s as an exact string, so a healthy start whose file says
    localhost where the config says 127.0.0.1 (or db.example. with a trailing
    dot) failed at once, "neither waiting nor a restart mends". Only the
    reading of red5.log is stood in for here; the rest is the step's own."""
    from types import SimpleNamespace
    from typing import Any

    from steps import service_looks
    from steps.service_looks import UsesAnotherDatabase

    ctx: Any = SimpleNamespace(settings=SimpleNamespace(install_dir="/usr/local",
                                                        source="/c.toml"),
                               facts=SimpleNamespace(install_real=None, scratch=SimpleNamespace(
                                   red5_log_start_offset=0)))

    async def check(logged: tuple[str, int], host: str, port: int) -> bool:
        async def read(_ctx: Any) -> tuple[str, int]:
            return logged

        monkeypatch.setattr(service_looks, "database_logged", read)
        where = SimpleNamespace(host=host, port=port, address=f"{host}:{port}")
        return await service_looks.logs_the_database(ctx, where)

    assert await check(("localhost", 3306), "127.0.0.1", 3306)
    assert await check(("db.example.", 3306), "DB.example", 3306)
    assert await check(("[::1]".strip("[]"), 3306), "127.0.0.1", 3306)
    for logged in (("127.0.0.3", 3306), ("db.example", 3307)):
        try:
            await check(logged, "db.example" if logged[1] == 3307 else "127.0.0.4", 3306)
        except UsesAnotherDatabase:
            continue
        raise AssertionError(f"{logged} was taken for the new database")



async def found_running(tmp_path: Path, *, put_right: bool) -> ScriptedFrontEnd:
    """A rehearsal stopped at start-service; the service then started by hand
    on a file whose config.dbPort is not the new database's, and (put_right)
    the file put right and the service restarted by hand, its webapp slow to
    load; then the run resumed, finding it running: its front end."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=60))
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal, settings) is Outcome.STOPPED
        path = host.install_dir / "red5pro" / PROPERTIES
        right = path.read_text()
        path.write_text(re.sub(r"(?m)^config\.dbPort=.*$", "config.dbPort=3306", right))
        status, output = await host._run_shim("systemctl", "start", "red5pro")
        assert status == 0, output
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        await until(lambda: log.is_file() and service.UNAVAILABLE_LINE in log.read_text(),
                    what="the earlier start to give up on the database it names")
        try:
            if put_right:
                path.write_text(right)
                armed.arm(host.sandbox, "slow-start", step="start-service", delay=25)
                status, output = await host._run_shim("systemctl", "restart", "red5pro")
                assert status == 0, output
            front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]})
            await rehearse(host, front, journal, settings, resume=replay(journal))
        finally:
            armed.lift(host.sandbox, "slow-start")
    return front


async def test_an_earlier_starts_database_line_is_not_taken_for_a_service_restarted_by_hand(
        tmp_path: Path) -> None:
    """A start runbook did not make (found running as a resumed run goes on)
    is read from the top of red5.log, where an earlier start's dbURL line can
    be the last one: the run before was stopped, the operator set config.dbPort
    right and restarted the service by hand, and its webapp had not logged its
    own line yet. start-service took the earlier line for this start's, said
    the file disagrees with [new_database] (it no longer did) and that neither
    waiting nor a restart mends it, and failed a healthy start. (The
    rehearsal's 6.2 and 11.1 no longer write that line, as 6.2.0 does not;
    the start found running must still go through.)"""
    front = await found_running(tmp_path, put_right=True)
    assert front.final_state("start-service") == "done", front.text()[-3000:]
    assert "disagree" not in front.text(), front.text()[-3000:]


async def test_a_service_found_running_on_a_wrong_database_still_fails_the_step_at_once(
        tmp_path: Path) -> None:
    """The other side of the test above: found running (a resumed run), on a
    file that still names another database than [new_database], that is
    said at once, as for a start runbook made."""
    front = await found_running(tmp_path, put_right=False)
    report = front.last_report("start-service")
    assert front.final_state("start-service") == "failed", front.text()[-3000:]
    assert report.elapsed_s is not None and report.elapsed_s < 30, report
    assert "127.0.0.3:3306" in report.detail and "disagree" in report.detail, report


async def _stopped_with_its_file_on_the_live_database(
        host: RehearsalHost, journal: Path, settings: Settings) -> str:
    """A run stopped at start-service, then the installed file set to the live
    database: the file as it was (naming [new_database])."""
    first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
    assert await rehearse(host, first, journal, settings) is Outcome.STOPPED
    path = host.install_dir / "red5pro" / PROPERTIES
    right = path.read_text()
    text = re.sub(r"(?m)^config\.dbHost=.*$", f"config.dbHost={host.old_db[0]}", right)
    path.write_text(re.sub(r"(?m)^config\.dbPort=.*$", f"config.dbPort={host.old_db[1]}", text))
    return right


async def _started_by_hand_on_the_live_database(
        host: RehearsalHost, journal: Path, settings: Settings) -> tuple[str, int | None]:
    """As _stopped_with_its_file_on_the_live_database, then the service
    started by hand on that file, loaded: the file as it was and the server's pid."""
    right = await _stopped_with_its_file_on_the_live_database(host, journal, settings)
    status, output = await host._run_shim("systemctl", "start", "red5pro")
    assert status == 0, output
    log = host.install_dir / "red5pro" / "log" / "red5.log"
    await until(lambda: log.is_file() and service.READY_LINE in log.read_text(),
                what="the service started by hand to load on the live database")
    return right, host.service_pid()


async def test_a_service_started_by_hand_on_another_database_that_answers_fails_the_step(
        tmp_path: Path) -> None:
    """A resumed run found the service running (started by hand, outside
    runbook) and its API answering, and passed without looking at the file:
    on a 6.2+ release nothing in red5.log says which database it uses, so a
    service on the live database, which answers, went on as the new stream
    manager. The file is compared with [new_database] there too: the step
    fails in one line, saying what to set where or to roll back, and the
    running service is left as it is."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        _right, pid = await _started_by_hand_on_the_live_database(host, journal, settings)
        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]})
        outcome = await rehearse(host, front, journal, settings, resume=replay(journal))
        assert outcome is Outcome.FAILED, front.text()[-3000:]
        still = host.service_pid()
    report = front.last_report("start-service")
    said = report.detail
    assert "\n" not in said, said
    assert f"{host.old_db[0]}:{host.old_db[1]}" in said and "[new_database]" in said, said
    assert "config.dbHost" in said and "config.dbPort" in said and PROPERTIES in said, said
    assert "roll back" in said and "systemctl stop red5pro" in said, said
    # Left as it is: the same server runs, and runbook asked systemd for nothing.
    assert pid is not None and still == pid, (pid, still)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    resumed = max(n for n, r in enumerate(records) if r["event"] == "run-start")
    assert not [r for r in records[resumed:] if r["event"] == "action-start"
                and r["step"] == "start-service"], records[resumed:]


async def test_a_service_started_on_another_database_then_its_file_put_right_is_restarted(
        tmp_path: Path) -> None:
    """The test above, with the operator's mend half done: told to stop the
    service, fix the file and try again, the file was put right but the
    service left running. The check then found the file naming
    [new_database] and passed, while the server still used the live
    database it had read at its start: the run went on with the new stream
    manager on the old fleet's database. A service that started before the
    file last changed is restarted, saying why, so that it reads the file."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        right, pid = await _started_by_hand_on_the_live_database(host, journal, settings)
        path = host.install_dir / "red5pro" / PROPERTIES
        path.write_text(right)  # put right, the service left running
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, settings, resume=replay(journal))
        assert outcome is Outcome.DONE, front.text()[-3000:]
        still = host.service_pid()
        # The rebuilt nodegroups are in the database the server used: the new one.
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
    assert pid is not None and still is not None and still != pid, (pid, still)
    said = [r["detail"] for r in (json.loads(line) for line in journal.read_text().splitlines())
            if r["event"] == "check" and r["step"] == "start-service"]
    assert any("started before" in detail for detail in said), said
    plan = front.plans["start-service"]
    assert "restarted" in plan[0].render() and "\n" not in plan[0].render(), plan[0].render()
    assert any(isinstance(a, Shell) and a.command.endswith("systemctl restart red5pro")
               for a in plan[:2]), plan


async def _started_by_hand_slowly_on_the_live_database(
        host: RehearsalHost, journal: Path, settings: Settings,
        delay: float) -> tuple[str, int | None]:
    """As _started_by_hand_on_the_live_database, but its webapp, once it has
    read the file, takes `delay` seconds more to load: the server runs, has
    read the live database's address, and does not answer yet. The fault is
    lifted then, so a restart loads at once."""
    right = await _stopped_with_its_file_on_the_live_database(host, journal, settings)
    armed.arm(host.sandbox, "slow-start", step="start-service", delay=delay,
              after_reading=True)
    try:
        status, output = await host._run_shim("systemctl", "start", "red5pro")
        assert status == 0, output
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        await until(lambda: log.is_file() and "Loading the streammanager webapp"
                    in log.read_text(), what="the service started by hand to load its webapp")
        await asyncio.sleep(1)  # its file read, well within the delay
    finally:
        armed.lift(host.sandbox, "slow-start")
    return right, host.service_pid()


async def test_a_service_started_by_hand_on_another_database_not_answering_yet_says_stop_it(
        tmp_path: Path) -> None:
    """Review 56d F2 (second path): found running and not answering yet, its
    file naming another database than [new_database], the step failed
    saying "runbook did not start the service" and to set the file and try
    again: tried again, `systemctl start` leaves the running server, on the
    database it read, as it is. It says the service runs and to stop it."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=60))
        _right, pid = await _started_by_hand_slowly_on_the_live_database(
            host, journal, settings, delay=40)
        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]})
        outcome = await rehearse(host, front, journal, settings, resume=replay(journal))
        still = host.service_pid()
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    report = front.last_report("start-service")
    said = report.detail
    assert report.elapsed_s is not None and report.elapsed_s < 30, report
    assert f"{host.old_db[0]}:{host.old_db[1]}" in said and "[new_database]" in said, said
    assert "runbook did not start" not in said and "systemctl stop red5pro" in said, said
    assert "its API answers" not in said, said
    assert pid is not None and still == pid, (pid, still)


async def test_a_service_not_answering_yet_whose_file_was_put_right_since_is_restarted(
        tmp_path: Path) -> None:
    """Review 56d F2 (second path, tried again): the server started by hand
    read the live database's address and is still loading; the file is then
    put right, the service left running. The check found it under way, the
    file naming [new_database], and `systemctl start` left it as it was: its
    API answered, on the live database, as the new stream manager. A service
    that started before its file last changed is restarted, saying why."""
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=60))
        right, pid = await _started_by_hand_slowly_on_the_live_database(
            host, journal, settings, delay=12)
        (host.install_dir / "red5pro" / PROPERTIES).write_text(right)
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal, settings, resume=replay(journal))
        still = host.service_pid()
        on_new = len(cloud.list_nodegroups(host.sandbox, *host.new_db))
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert on_new == seeded_nodegroups(), "the rebuilt nodegroups are in the new database"
    assert pid is not None and still is not None and still != pid, (pid, still)
    said = [r["detail"] for r in (json.loads(line) for line in journal.read_text().splitlines())
            if r["event"] == "check" and r["step"] == "start-service"]
    assert any("started before" in detail for detail in said), said
    plan = front.plans["start-service"]
    assert any(isinstance(a, Shell) and a.command.endswith("systemctl restart red5pro")
               for a in plan[:2]), plan


async def test_a_slow_start_of_a_release_that_logs_no_database_does_not_read_red5_log_for_it(
        tmp_path: Path) -> None:
    """Once its API had been silent ten seconds, start-service looked in
    red5.log for the dbURL line every two seconds until the API answered: a
    root shell each time, in the downtime. Only 5.1.1's log is known to have
    the line (facts audit 56a H1): on a 6.2 -> 11.1 upgrade the looks found
    nothing, for the whole of a slow start. The file was compared with
    [new_database] before the start anyway. Counted as the commands the host
    was asked while the step ran."""
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=60))
        assert host.scenario.new.api == "4.0"
        # The webapp loads well past the ten seconds, well within the limit.
        armed.arm(host.sandbox, "slow-start", step="start-service", delay=17.0)
        spans: dict[str, int] = {}

        def mark(step: StepReport, plan: list[Action]) -> None:
            spans[step.id] = len(host.commands)
            if step.id == "recreate":
                armed.lift(host.sandbox, "slow-start")

        front = ScriptedFrontEnd(on_confirm=mark)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            armed.lift(host.sandbox, "slow-start")
        asked = host.commands[spans["start-service"]:spans["recreate"]]
    assert outcome is Outcome.DONE, front.text()[-3000:]
    assert front.final_state("start-service") == "done"
    report = front.last_report("start-service")
    assert report.elapsed_s is not None and report.elapsed_s > 15, report  # it was slow
    looks = [command for command in asked if "dbURL" in command]
    assert looks == [], f"{len(looks)} of {len(asked)} commands read red5.log for dbURL"


def test_red5_log_is_read_for_the_database_only_where_it_can_say_what_the_file_did_not() -> None:
    """No rehearsal starts a 5.1 release forward, so the choice is shown here:
    only 5.1.x logs dbURL (facts audit 56a H1); and of a start runbook made
    from a file it had just proven, the line would only repeat the file."""
    from types import SimpleNamespace
    from typing import Any

    from steps.service_looks import log_may_name_the_database

    def reads(version: str, *, proven: bool, offset: int | None) -> bool:
        ctx: Any = SimpleNamespace(facts=SimpleNamespace(
            new_version=version, scratch=SimpleNamespace(red5_log_start_offset=offset)))
        return log_may_name_the_database(ctx, file_proven=proven)

    assert reads("5.1.1.b236", proven=False, offset=0)  # the file could not be read
    assert reads("5.1.1.b236", proven=True, offset=None)  # found running: read before the fix?
    assert not reads("5.1.1.b236", proven=True, offset=0)
    for version in ("6.2.0.b406", "10.9.2", "11.1.0", ""):
        assert not reads(version, proven=False, offset=None), version


def _with_a_jar_holding_no_controller(host: RehearsalHost, jar: Path, *,
                                      service_start: float) -> Settings:
    """The rehearsal's settings with `jar` for the cloud-controller jar, made
    holding a class that is no controller (the new install's bean then names
    a class no jar holds), and start-service's limit `service_start`."""
    from runbook.rehearsal import sandbox

    jar.write_bytes(sandbox.jar_bytes("aws-cloud-controller", "11.0.0",
                                      ["org.red5.example.NotAController"]))
    settings = rehearsal_settings(host)
    return dataclasses.replace(settings, cloud_controller=jar, timeouts=dataclasses.replace(
        settings.timeouts, service_start=service_start))


async def test_a_controller_class_no_jar_holds_fails_the_step_without_waiting_it_out(
    tmp_path: Path,
) -> None:
    """A jar holding no controller class passes preflight with a warning
    (start-service tells). The webapp then does not load, and red5.log says
    why (ClassNotFoundException for the bean's class) within a second of the
    start; the step waited out its whole limit, restarted the service (which
    loads the same jars) and waited it out again. It fails once the log says
    so, quoting the line and saying where the jar goes; tried again once the
    jar is there, it restarts the service at once."""
    from runbook.model import Note
    from runbook.rehearsal import sandbox

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    notes: list[str] = []
    async with rehearsal_host(tmp_path) as host:
        settings = _with_a_jar_holding_no_controller(host, jar, service_start=40)

        def put_the_jar_right(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service" and front.asked.count("start-service") == 2:
                lib = host.install_dir / "red5pro" / "webapps/streammanager/WEB-INF/lib"
                (lib / jar.name).write_bytes(sandbox.jar_bytes(
                    "aws-cloud-controller", "11.0.0", [sandbox.AWS]))
                notes.extend(a.text for a in plan if isinstance(a, Note))

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.RETRY]},
                                 on_confirm=put_the_jar_right)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
    assert outcome is Outcome.DONE, front.text()[-3000:]
    failed = [e.report for e in front.events if isinstance(e, StepChanged)
              and e.report.id == "start-service" and e.report.state.value == "failed"]
    assert len(failed) == 1, front.states
    assert "restarting it once" not in front.text()
    said = failed[0].detail
    assert f"java.lang.ClassNotFoundException: {sandbox.AWS}" in said, said
    assert "WEB-INF/lib" in said and "restarts the service" in said, said
    assert "The service runs" in said, said
    elapsed = failed[0].elapsed_s
    assert elapsed is not None and elapsed < 20, elapsed
    assert notes and "did not load" in notes[0] and "restarted at once" in notes[0], notes


async def test_a_retry_names_its_own_cause_not_one_an_earlier_attempt_met(
    tmp_path: Path,
) -> None:
    """Review 59c M2: each cause of a failed start was a fact that only a
    served start cleared. A jar holding no controller failed the first
    attempt; the jar put right and a bean key left out, the second failed on
    HTTP 404; the third's plan still said the controller's class was not
    found, a cause mended two attempts before."""
    from runbook.model import Note
    from runbook.rehearsal import sandbox

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    notes: list[str] = []
    async with rehearsal_host(tmp_path) as host:
        settings = _with_a_jar_holding_no_controller(host, jar, service_start=60)
        new = host.install_dir / "red5pro"

        def weather(step: StepReport, plan: list[Action]) -> None:
            if step.id != "start-service":
                return
            tries = front.asked.count("start-service")
            if tries == 2:  # the jar right, a key of the bean left out
                (new / "webapps/streammanager/WEB-INF/lib" / jar.name).write_bytes(
                    sandbox.jar_bytes("aws-cloud-controller", "11.0.0", [sandbox.AWS]))
                path = new / PROPERTIES
                path.write_text(re.sub(r"(?m)^aws\.forUsGovRegions=", "#aws.forUsGovRegions=",
                                       path.read_text()))
            elif tries == 3:
                notes.extend(a.text for a in plan if isinstance(a, Note))

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.RETRY] * 2
                                             + [Recovery.STOP]}, on_confirm=weather)
        await rehearse(host, front, tmp_path / "run.jsonl", settings)
    assert front.asked.count("start-service") == 3, front.text()[-3000:]
    said = " ".join(notes)
    assert "restarted at once" in said, said
    assert "class was not found" not in said, said


async def test_a_start_asks_for_the_cloud_controller_once_and_proves_serving_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's first answer is its cloud controller: the step asked for it
    again to record it, and a third time in its verify, which proved serving
    again a moment after the run had (a helper's count, stop 58). The request
    that finds a fresh client's version is that same question, asked once
    more at each look in the downtime (issue 12). Counted at runbook's own
    client (every request it sends) and proof, against the rehearsal's
    stream manager."""
    from runbook import smapi
    from steps import start_service

    front = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
    asked: list[tuple[str | None, int, str]] = []
    clients: list[smapi.StreamManagerAPI] = []
    proved: list[str | None] = []

    def step_now() -> str | None:
        changed = [e.report.id for e in front.events if isinstance(e, StepChanged)]
        return changed[-1] if changed else None

    send, prove = smapi.StreamManagerAPI._send, start_service.serving_proof

    async def counted_send(self: smapi.StreamManagerAPI, method: str, path: str,
                           *args: object, **kwargs: object) -> object:
        if not any(client is self for client in clients):
            clients.append(self)  # kept: no later client takes its id
        asked.append((step_now(), id(self), path))
        return await send(self, method, path, *args, **kwargs)  # type: ignore[arg-type]

    async def counted_proof(*args: object, **kwargs: object) -> object:
        proved.append(step_now())
        return await prove(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(smapi.StreamManagerAPI, "_send", counted_send)
    monkeypatch.setattr(start_service, "serving_proof", counted_proof)
    async with rehearsal_host(tmp_path) as host:
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", rehearsal_settings(host))
    assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.final_state("start-service") == "done", front.text()[-3000:]
    # Per client, each a look of its own, and per version it tried.
    controller = Counter((client, path) for step, client, path in asked
                         if step == "start-service"
                         and path.endswith("/admin/debug/cloudcontroller"))
    assert controller and max(controller.values()) == 1, asked
    assert proved.count("start-service") == 1, proved


async def test_a_webapp_that_did_not_load_fails_the_step_soon_with_red5_log(
        tmp_path: Path) -> None:
    """Facts audit 59b (H1): a real Red5 opens its HTTP port only once Tomcat
    has started the webapps' contexts, so a 404 for the Stream Manager API
    means the streammanager webapp failed to load, which waiting does not
    mend. start-service took it for a boot ("as while the webapp loads") and
    waited its limit, restarted, and waited it again. Here the new install's
    file leaves a key of the controller bean commented out: Spring refuses
    the context. The step fails well within one limit, quoting red5.log."""
    def unset_a_bean_key(host: RehearsalHost) -> None:
        path = host.install_dir / "red5pro" / PROPERTIES
        text = path.read_text()
        assert re.search(r"(?m)^aws\.forUsGovRegions=", text), text
        path.write_text(re.sub(r"(?m)^aws\.forUsGovRegions=", "#aws.forUsGovRegions=", text))

    front = await failed_start(tmp_path, skipping=None, service_start=60,
                               at_start=unset_a_bean_key)
    report = front.last_report("start-service")
    assert report.elapsed_s is not None and report.elapsed_s < 45, report
    said = report.detail
    assert "Could not resolve placeholder 'aws.forUsGovRegions'" in said, said
    assert "did not load" in said and "roll back" in said, said
    text = front.text()
    assert "restarting it once" not in text and "as while the webapp loads" not in text, \
        text[-3000:]


async def test_a_retry_that_finds_the_service_serving_forgets_the_causes_earlier_starts_met(
    tmp_path: Path,
) -> None:
    """The path that finds the service serving kept what earlier starts met
    (dd14858 cleared it on the start path alone). A jar holding no controller
    failed the first attempt; the operator put the jar right and restarted
    the service by hand, and the retry found it serving. The exit lines
    still said the failed attempt had left it running. Later the webapp
    failed to load (restarted while its database was away), and a resumed
    run's plan still said the controller's class was not found, a cause
    mended long before."""
    from runbook.model import Note
    from runbook.rehearsal import sandbox
    from runbook.standing import service_state

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = _with_a_jar_holding_no_controller(host, jar, service_start=40)
        new = host.install_dir / "red5pro"

        class MendsByHand(ScriptedFrontEnd):
            async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
                if step.id == "start-service":
                    (new / "webapps/streammanager/WEB-INF/lib" / jar.name).write_bytes(
                        sandbox.jar_bytes("aws-cloud-controller", "11.0.0", [sandbox.AWS]))
                    status, output = await host._run_shim("systemctl", "restart", "red5pro")
                    assert status == 0, output
                return await super().recover(step, can_roll_back=can_roll_back)

        first = MendsByHand({"recreate": Decision(Answer.STOP)},
                            recoveries={"start-service": [Recovery.RETRY]})
        assert await rehearse(host, first, journal, settings) is Outcome.STOPPED, \
            first.text()[-3000:]
        assert first.final_state("start-service") == "done", first.text()[-3000:]
        # Found serving, nothing was left running by a failure.
        assert "left it running" not in service_state(replay(journal))
        # The webapp then fails to load: restarted while its database was away.
        database = host._db.new
        address = database.address
        await database.stop()
        status, output = await host._run_shim("systemctl", "restart", "red5pro")
        assert status == 0, output
        await database.launch(*address)
        second = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        await rehearse(host, second, journal, settings, resume=replay(journal))
    said = " ".join(a.text for a in second.plans["start-service"] if isinstance(a, Note))
    assert "HTTP 404" in said, said
    assert "class was not found" not in said, said


async def test_the_controllers_missing_class_is_found_behind_other_classes_not_found(
    tmp_path: Path,
) -> None:
    """Review 59c L4: the look read only the first five ClassNotFoundException
    lines of this start's red5.log. A start that logged more of them for
    other classes first never found the bean's: the step waited for the
    404 rule and failed later, without saying where the jar goes."""
    from runbook.rehearsal import sandbox

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    async with rehearsal_host(tmp_path) as host:
        settings = _with_a_jar_holding_no_controller(host, jar, service_start=60)
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        # The webapp loads slowly; other classes not found are logged first.
        armed.arm(host.sandbox, "slow-start", step="start-service", delay=4.0)

        async def other_classes_not_found() -> None:
            await until(lambda: log.is_file() and "slow-start)" in log.read_text(),
                        what="this start's webapp to begin loading", timeout=120)
            with log.open("a") as out:
                for n in range(8):
                    out.write(f"2026-12-07 04:00:0{n},000 [main] WARN  o.r.s.Loader - "
                              f"java.lang.ClassNotFoundException: org.example.Plugin{n}\n")

        def at_start(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service":
                tasks.append(asyncio.get_running_loop().create_task(other_classes_not_found()))

        tasks: list[asyncio.Task[None]] = []
        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]},
                                 on_confirm=at_start)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            armed.lift(host.sandbox, "slow-start")
        await asyncio.gather(*tasks)
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    report = front.last_report("start-service")
    said = report.detail
    assert f"java.lang.ClassNotFoundException: {sandbox.AWS}" in said, said
    assert "WEB-INF/lib" in said, said
    assert report.elapsed_s is not None and report.elapsed_s < 20, report


async def test_a_start_slower_than_the_units_jsvc_wait_is_said_so_not_sent_to_a_log_cause(
    tmp_path: Path,
) -> None:
    """Review 59c L5: under jsvc's -wait, a server still loading when the
    wait runs out fails the start, and systemd stops it. The step said "once
    the log's cause is fixed, try the step again", where red5.log holds no
    cause and a retry fails the same way; and it quoted the log's last line,
    the stop systemd asked for, as if it were the cause (trial 60, F14). It
    says the start was too slow for the unit's wait, and what to do. (The
    unit's -wait is made 10 here, so jsvc gives up after 20 s, as its
    wait_child looks: data README.)"""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, service_start=60))

        def shorter_wait(step: StepReport, plan: list[Action]) -> None:
            if step.id == "service-unit":  # the release's unit, which the step installs
                unit = host.install_dir / "red5pro" / "red5pro.service"
                text = unit.read_text()
                assert "-wait 60 " in text, text
                unit.write_text(text.replace("-wait 60 ", "-wait 10 "))
            if step.id == "start-service":
                armed.arm(host.sandbox, "slow-start", step="start-service", delay=40.0)

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]},
                                 on_confirm=shorter_wait)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            armed.lift(host.sandbox, "slow-start")
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = front.last_report("start-service").detail
    assert "systemd could not start red5pro" in said, said
    assert "log's cause" not in said, said
    assert "-wait 10" in said and "too slow" in said, said
    assert "daemon-reload" in said and "Nothing runs now" in said, said
    # Operator trial 60 (F14): the log's last line, quoted as what it "ends
    # with", was only the stop systemd asked for ("Shutdown requested by
    # signal"): an operator hunted for who sent a signal. Not quoted.
    assert "ends with" not in said and "Shutdown requested" not in said, said
    assert "shows no error" in said, said


def test_a_start_gives_up_at_jsvcs_wait_or_systemds_start_timeout_whichever_is_first(
) -> None:
    """Review 60c, F11: the "too slow" rule took the unit's -wait seconds for
    the limit, where jsvc gives up later (its wait_child: 70 s for -wait 60),
    and systemd's own start timeout (TimeoutStartSec, 90 s unless set) was
    never named, though it ends a start first from -wait 90 up."""
    from steps import red5

    def unit(wait: int | None, *lines: str) -> str:
        flag = f"-wait {wait} " if wait is not None else ""
        return ("[Service]\nType=forking\n" + "".join(f"{line}\n" for line in lines)
                + f"ExecStart=/usr/bin/jsvc {flag}-pidfile x org.red5.daemon.EngineLauncher\n")

    def limit(text: str) -> tuple[float, bool] | None:
        found = red5.start_limit(text)
        return None if found is None else (found.seconds, found.by_systemd)

    assert [red5.jsvc_gives_up_after(n) for n in (10, 15, 60, 100, 110, 200)] == \
        [20, 20, 70, 110, 121, 220]
    assert limit(unit(60)) == (70, False)
    assert limit(unit(80)) == (90, False)  # the two at once: jsvc's, no later
    assert limit(unit(120)) == (90, True)
    assert limit(unit(60, "TimeoutStartSec=30")) == (30, True)
    assert limit(unit(60, "TimeoutSec=2min")) == (70, False)
    assert limit(unit(120, "TimeoutStartSec=infinity")) == (132, False)
    assert limit(unit(120, "TimeoutSec=1min 30s", "TimeoutStartSec=3min")) == (132, False)
    assert limit(unit(5)) is None and limit(unit(None)) is None
    found = red5.start_limit(unit(120))
    assert found is not None and "TimeoutStartSec" in found.words and "90" in found.words, found
    found = red5.start_limit(unit(60))
    assert found is not None and "70 s" in found.words and "-wait 60" in found.words, found
    # Review 61b, F8: the value in effect, as systemctl show gives it (a
    # drop-in's, say), over the file's; the file's where it gives none.
    shown = red5.start_limit(unit(60), "TimeoutStartUSec=30s\n")
    assert shown is not None and (shown.seconds, shown.by_systemd) == (30, True), shown
    shown = red5.start_limit(unit(120, "TimeoutStartSec=30"), "TimeoutStartUSec=infinity\n")
    assert shown is not None and (shown.seconds, shown.by_systemd) == (132, False), shown
    shown = red5.start_limit(unit(120), "TimeoutStartUSec=1min 30s\n")
    assert shown is not None and "systemd's default" in shown.words, shown
    shown = red5.start_limit(unit(120), "TimeoutStartUSec=1h 2min 3.5s\n")
    assert shown is not None and shown.systemd_s == 3723.5 and shown.systemd_set, shown
    assert limit(unit(60, "TimeoutStartSec=30")) == (30, True)


async def test_a_start_that_outlasts_systemds_start_timeout_is_said_so(tmp_path: Path) -> None:
    """Review 60c, F11: a unit whose TimeoutStartSec ends the start before
    jsvc's -wait does: systemd fails it as timed out and stops the server.
    The step said nothing of that limit (took < -wait: no "too slow" at
    all). It names TimeoutStartSec, and what to raise."""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, service_start=60))

        def shorter_timeout(step: StepReport, plan: list[Action]) -> None:
            if step.id == "service-unit":  # the release's unit, which the step installs
                unit = host.install_dir / "red5pro" / "red5pro.service"
                text = unit.read_text()
                assert "-wait 60 " in text and "Timeout" not in text, text
                unit.write_text(text.replace("[Service]\n", "[Service]\nTimeoutStartSec=15\n"))
            if step.id == "start-service":
                armed.arm(host.sandbox, "slow-start", step="start-service", delay=40.0)

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]},
                                 on_confirm=shorter_timeout)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            armed.lift(host.sandbox, "slow-start")
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = front.last_report("start-service").detail
    assert "timed out" in said or "timeout" in said, said
    assert "TimeoutStartSec" in said and "15 s" in said and "too slow" in said, said
    assert "log's cause" not in said and "Nothing runs now" in said, said


async def test_a_start_timeout_set_in_a_drop_in_is_the_one_said(tmp_path: Path) -> None:
    """Review 61b, F8: start-service read TimeoutStartSec from the unit file
    alone. A drop-in (red5pro.service.d/*.conf) that sets it shorter ended
    the start first, and the step said nothing of that limit. It reads the
    value in effect from systemd, and names TimeoutStartSec."""
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, timeouts=dataclasses.replace(
            settings.timeouts, service_start=60))

        def shorter_timeout(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service":
                drop_in = sandbox.unit_file(host.sandbox).parent / "red5pro.service.d"
                drop_in.mkdir(exist_ok=True)
                (drop_in / "timeout.conf").write_text("[Service]\nTimeoutStartSec=15\n")
                armed.arm(host.sandbox, "slow-start", step="start-service", delay=40.0)

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]},
                                 on_confirm=shorter_timeout)
        try:
            outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        finally:
            armed.lift(host.sandbox, "slow-start")
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    said = front.last_report("start-service").detail
    assert "TimeoutStartSec" in said and "15 s" in said and "too slow" in said, said
    assert "drop-in" in said, said


def test_the_units_jsvc_wait_is_read_where_jsvc_waits() -> None:
    """jsvc waits for the server's start only with -wait 10 or more."""
    from steps import red5

    def unit(start: str) -> str:
        return f"[Service]\nType=forking\nExecStart={start}\n"

    assert red5.jsvc_wait(unit("/usr/bin/jsvc -debug \\\n    -wait 60 \\\n    -pidfile x "
                               "org.red5.daemon.EngineLauncher 9999")) == 60
    assert red5.jsvc_wait(unit("/usr/bin/jsvc -wait 5 -pidfile x Launcher")) is None
    assert red5.jsvc_wait(unit("/usr/bin/jsvc -pidfile x Launcher")) is None
    assert red5.jsvc_wait(unit("/usr/bin/java -wait 60 -jar x.jar")) is None


async def test_the_way_backs_start_does_not_take_the_new_releases_cause_for_the_old_ones(
    tmp_path: Path,
) -> None:
    """Review 59c L1: what the new release's start met (its controller's
    class not found) is one fact for both sides. The way back, stopped before
    rollback-start and the old release then started by hand (still loading),
    had its plan say the old release's webapp did not load, and restart it
    at once."""
    from runbook.model import Note

    jar = tmp_path / "aws-cloud-controller-11.0.0.jar"
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = _with_a_jar_holding_no_controller(host, jar, service_start=60)
        first = ScriptedFrontEnd({"rollback-start": Decision(Answer.STOP)},
                                 recoveries={"start-service": [Recovery.ROLLBACK]})
        await rehearse(host, first, journal, settings)
        assert first.final_state("start-service") == "failed", first.text()[-3000:]
        assert "ClassNotFoundException" in first.last_report("start-service").detail
        assert "rollback-start" in first.plans, first.text()[-3000:]
        # The old release started by hand, still loading as the way back resumes.
        armed.arm(host.sandbox, "slow-start", step="rollback-start", delay=30.0)
        try:
            status, output = await host._run_shim("systemctl", "start", "red5pro")
            assert status == 0, output
            second = ScriptedFrontEnd({"rollback-start": Decision(Answer.STOP)})
            await rehearse(host, second, journal, settings, resume=replay(journal))
        finally:
            armed.lift(host.sandbox, "slow-start")
    plan = second.plans["rollback-start"]
    said = " ".join(a.text for a in plan if isinstance(a, Note))
    assert "did not load" not in said, said
    assert next(a.command for a in plan if isinstance(a, Shell)).endswith(
        "systemctl start red5pro"), plan


async def test_a_redirect_fails_the_look_at_once_naming_where_it_points() -> None:
    """Review 61, F2: [api] base_url http where the new release (or a proxy)
    redirects to https. The 301's page was taken for the cloud controller and
    start-service was proven on it; recreate then failed in the downtime. The
    look fails at once, saying where it points and what to set; no waiting
    out the limit (a redirect does not pass as a server boots)."""
    import httpx

    from runbook.smapi import StreamManagerAPI
    from runbook.step import StepFailed
    from steps.start_service import StartService

    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://sm.test/"},
                              text="<html>302 Found</html>")

    api = StreamManagerAPI("http://sm.test:5080", "tok-123456",
                           transport=httpx.MockTransport(redirecting))

    class Looking:
        """What _answering asks of the step's context: the API, version found."""

        async def api(self, **_: object) -> StreamManagerAPI:
            await api.detect_version()
            return api

    step = StartService()
    step._speaks = lambda p: None  # type: ignore[method-assign]
    errors: list[object] = []
    async with api:
        with pytest.raises(StepFailed) as failed:
            await step._ask_api(Looking(), errors)  # type: ignore[arg-type]
    assert "https://sm.test/" in str(failed.value), failed.value
    assert "[api] base_url" in str(failed.value), failed.value


async def test_an_empty_cloud_controller_answer_is_said_while_the_step_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review K2, K1: the API answered HTTP 200 with an empty cloud-controller
    body, and start-service waited on without a word of what it answered
    (every other answer is said once as the wait goes on), to a failure that
    said "last answer: no answer at all". No source says a stream manager
    answers so, and the rehearsal's does not: its answer is stood in for at
    runbook's own client, for the first looks of start-service's wait; the
    rest (host, service, API) is the rehearsal's."""
    from runbook import smapi

    real = smapi.StreamManagerAPI.cloud_controller
    empties = [3]  # start-service's first looks hear an empty answer

    async def empty_at_first(self: smapi.StreamManagerAPI, *, as_settled: bool = False) -> str:
        answer = await real(self, as_settled=as_settled)
        if as_settled and empties[0] > 0:  # only start-service's wait asks as settled
            empties[0] -= 1
            return ""
        return answer

    monkeypatch.setattr(smapi.StreamManagerAPI, "cloud_controller", empty_at_first)
    front = ScriptedFrontEnd({"recreate": Decision(Answer.STOP)})
    async with rehearsal_host(tmp_path) as host:
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", rehearsal_settings(host))
    assert outcome is Outcome.STOPPED, front.text()[-3000:]
    assert front.final_state("start-service") == "done", front.text()[-3000:]
    assert empties == [0], "the stand-in answered empty"
    said = [line for step, _stream, line in front.lines if step == "start-service"]
    empty = [line for line in said if "HTTP 200" in line and "empty" in line]
    assert len(empty) == 1 and "cloud controller" in empty[0], said


async def test_a_throwaway_rehearsals_placeholder_advice_says_rehearse_again_not_resume(
    tmp_path: Path,
) -> None:
    """Review K2, K2: a start that failed with config.dbHost back to its
    placeholder told the operator to "stop, then go on with --resume", where
    a throwaway rehearsal (no --sandbox, no --keep) removes its sandbox as it
    ends: nothing to resume, it is rehearsed again, as the same advice before
    the start says (service_looks). The file passes start-service's look
    before the start; it gets its {host} back while the service, slow to load
    (the slow-start fault's flag), does not answer."""
    path_holder: list[Path] = []
    tasks: list[asyncio.Task[None]] = []

    async def placeholder_once_started(host: RehearsalHost) -> None:
        # Started: the step has compared the file with [new_database].
        await until(lambda: host.service_pid() is not None, what="the new service to start")
        path = host.install_dir / "red5pro" / PROPERTIES
        path.write_text(re.sub(r"(?m)^config\.dbHost=.*$", "config.dbHost={host}",
                               path.read_text()))
        path_holder.append(path)

    async with rehearsal_host(tmp_path, unit_wait=False) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(settings, rehearsal_throwaway=True, timeouts=dataclasses
                                       .replace(settings.timeouts, service_start=6))

        def at_start(step: StepReport, plan: list[Action]) -> None:
            if step.id == "start-service" and not tasks:
                # Each start loads its webapp long after the step has given up.
                armed.arm(host.sandbox, "slow-start", step="start-service", delay=600.0)
                tasks.append(asyncio.get_running_loop().create_task(
                    placeholder_once_started(host)))

        front = ScriptedFrontEnd(recoveries={"start-service": [Recovery.STOP]},
                                 on_confirm=at_start)
        outcome = await rehearse(host, front, tmp_path / "run.jsonl", settings)
        await tasks[0]
    assert outcome is Outcome.FAILED, front.text()[-3000:]
    assert path_holder, "the placeholder was put back"
    said = front.last_report("start-service").detail
    assert "config.dbHost" in said and "{host}" in said, said
    assert "rehearse again" in said and "--resume" not in said, said
