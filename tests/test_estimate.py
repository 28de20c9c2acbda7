"""Which earlier run's cutover time is the estimate for this one.

An operator trial showed a production run "the last cutover took 5.2s": the
time of a rehearsal whose fake cloud ran forty times faster than a real one.
An estimate is only worth showing when it comes from a run at the same pace:
a production run (or a rehearsal at the real pace) from production runs and
real-pace rehearsals, a faster rehearsal from rehearsals at its own pace.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from runbook.journal import Journal
from runbook.journal_replay import run_pace
from runbook.rehearsal import cloud
from runbook.report import build
from runbook.report_format import pace_words
from runbook.report_html import html
from runbook.report_md import markdown

FAST = cloud.FAST_PACE
HOUR = 3600.0


def journal(path: Path, *, rehearsal: bool | None, pace: float | None = None,
            downtime: float | None = None, ago: float | None = None,
            paces: tuple[float | None, ...] = (), unattended: bool = False,
            scenario: str | None = None, faults: tuple[str, ...] = ()) -> Path:
    """A finished run's journal, as the journal writes it, last written `ago`
    seconds back. `pace` None: a rehearsal recorded before the pace was (or a
    production run, which has none). `paces`: each later start (a resume)."""
    written = Journal(path)
    start: dict[str, object] = {"config": "x.toml", "host": "u@h:22", "steps": []}
    if rehearsal is not None:
        start["rehearsal"] = rehearsal
    if unattended:
        start["unattended"] = True
    if scenario is not None:
        start["scenario"] = scenario
    if faults:
        start["faults"] = list(faults)
    for n, at in enumerate((pace, *paces)):
        written.write("run-start", **start, **({} if at is None else {"pace": at}),
                      resumed=n > 0)
    if downtime is not None:
        written.write("cutover-start", step="delete-nodegroups")
        written.write("cutover-end", complete=True, downtime_s=downtime)
    written.write("run-end", outcome="done", exit_code=0)
    written.close()
    if ago is not None:
        when = time.time() - ago
        os.utime(path, (when, when))
    return path


def estimate(run: Path, folder: Path) -> float | None:
    return build(run, estimate_from=[folder]).downtime.estimate_s


def test_a_production_run_takes_no_estimate_from_a_fast_rehearsal(tmp_path: Path) -> None:
    """The trial's bug: the newest cutover on record was a fast rehearsal's."""
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=3 * HOUR)
    journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR)
    assert estimate(now, tmp_path) == 300.0


def test_a_production_run_takes_a_real_pace_rehearsal(tmp_path: Path) -> None:
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE, downtime=410.0,
            ago=2 * HOUR)
    journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR)
    report = build(now, estimate_from=[tmp_path])
    assert report.downtime.estimate_s == 410.0
    assert report.downtime.estimate_from == tmp_path / "real.jsonl"
    assert report.downtime.estimate_is_rehearsal


def test_a_fast_rehearsal_takes_only_a_rehearsal_at_its_own_pace(tmp_path: Path) -> None:
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=FAST)
    journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=4 * HOUR)
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=3 * HOUR)
    journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE, downtime=410.0,
            ago=2 * HOUR)
    journal(tmp_path / "half.jsonl", rehearsal=True, pace=0.5, downtime=200.0, ago=HOUR)
    assert estimate(now, tmp_path) == 5.2


def test_a_real_pace_rehearsal_takes_a_production_run(tmp_path: Path) -> None:
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=cloud.REAL_PACE)
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=2 * HOUR)
    journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR)
    report = build(now, estimate_from=[tmp_path])
    assert report.downtime.estimate_s == 300.0
    assert not report.downtime.estimate_is_rehearsal


def test_a_rehearsal_of_unknown_pace_is_no_estimate_and_gets_none(tmp_path: Path) -> None:
    """Journals written before the pace was recorded: it could have been any."""
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=3 * HOUR)
    journal(tmp_path / "older.jsonl", rehearsal=True, downtime=5.2, ago=2 * HOUR)
    journal(tmp_path / "unsaid.jsonl", rehearsal=None, downtime=6.0, ago=HOUR)
    production = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(production, tmp_path) == 300.0
    unknown = journal(tmp_path / "unknown.jsonl", rehearsal=True)
    assert estimate(unknown, tmp_path) is None


def test_a_rehearsal_resumed_at_another_pace_is_no_estimate(tmp_path: Path) -> None:
    """Its cutover ran partly at one pace and partly at another."""
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=2 * HOUR)
    journal(tmp_path / "mixed.jsonl", rehearsal=True, pace=cloud.REAL_PACE, paces=(FAST,),
            downtime=60.0, ago=HOUR)
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(now, tmp_path) == 300.0


def test_many_fast_rehearsals_do_not_hide_the_last_production_run(tmp_path: Path) -> None:
    """A morning of fast rehearsals before the window must not push the last
    comparable run out of reach of the search."""
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=5 * HOUR)
    for n in range(25):
        journal(tmp_path / f"fast-{n:02}.jsonl", rehearsal=True, pace=FAST, downtime=5.2,
                ago=HOUR + n)
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(now, tmp_path) == 300.0


def test_the_report_says_which_runs_it_looked_for(tmp_path: Path) -> None:
    """With only a fast rehearsal on record, "no earlier rehearsal was found"
    would be wrong: one was, at a pace that does not compare."""
    journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR)
    production = journal(tmp_path / "now.jsonl", rehearsal=False, downtime=290.0)
    text = markdown(build(production, estimate_from=[tmp_path]))
    assert "No earlier run or real-pace rehearsal with a finished cutover was found" in text
    half = journal(tmp_path / "half.jsonl", rehearsal=True, pace=0.5, downtime=150.0)
    page = html(build(half, estimate_from=[tmp_path]))
    assert "No earlier rehearsal at this pace with a finished cutover was found" in page
    # Operator trial: five rehearsals by hand, each in a --sandbox of its own,
    # and "none was found", with no word of where it looked.
    assert "--sandbox" in page and "beside this journal" in page, page
    unknown = journal(tmp_path / "unknown.jsonl", rehearsal=True, downtime=9.0)
    assert "its pace is not on record" in markdown(build(unknown, estimate_from=[tmp_path]))


def test_a_pace_no_float_can_hold_is_unknown_not_a_crash(tmp_path: Path) -> None:
    """Review: a damaged or hand-edited journal's `"pace": 1000…0` read back as
    an int too big for a float, and math.isfinite raised OverflowError out of
    every command that looks for an estimate or an unfinished run."""
    for odd in (10**400, float("nan"), float("inf"), -1, True, "0.025", None):
        assert run_pace({"rehearsal": True, "pace": odd}) is None, odd
    assert run_pace({"rehearsal": True, "pace": 0.025}) == 0.025
    journal(tmp_path / "production.jsonl", rehearsal=False, downtime=300.0, ago=2 * HOUR)
    journal(tmp_path / "odd.jsonl", rehearsal=True, pace=10**400, downtime=5.0, ago=HOUR)
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(now, tmp_path) == 300.0


def test_a_journal_repaired_at_its_start_still_counts(tmp_path: Path) -> None:
    """Review: a run-start torn by a crash is healed into a journal-repaired
    record, which then opens the journal; the run after it is a run like any."""
    repaired = tmp_path / "repaired.jsonl"
    repaired.write_bytes(b'{"ts": "2026-12-01T00:00:00+00:00", "event": "run-st')
    journal(repaired, rehearsal=False, downtime=300.0, ago=HOUR)
    assert '"journal-repaired"' in repaired.read_text().splitlines()[0]
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(now, tmp_path) == 300.0


def test_a_run_at_the_keys_takes_no_estimate_from_one_answered_by_yes(tmp_path: Path) -> None:
    """Operator trial: after one `--yes` rehearsal (5.2 s: nobody read a plan
    or typed a step's id), every rehearsal confirmed by hand was "10.8s over".
    A cutover's time holds the operator's pauses or it does not: only runs
    answered the same way stand for each other."""
    journal(tmp_path / "by-hand.jsonl", rehearsal=True, pace=FAST, downtime=16.0, ago=2 * HOUR)
    journal(tmp_path / "yes.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR,
            unattended=True)
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=FAST)
    assert estimate(now, tmp_path) == 16.0
    scripted = journal(tmp_path / "scripted.jsonl", rehearsal=True, pace=FAST, unattended=True)
    assert estimate(scripted, tmp_path) == 5.2
    alone = tmp_path / "alone"
    alone.mkdir()
    lone = journal(alone / "lone.jsonl", rehearsal=True, pace=FAST, unattended=True,
                   downtime=5.0)
    assert "No earlier run answered by --yes at this pace" in markdown(
        build(lone, estimate_from=[alone]))


def test_a_rehearsal_takes_no_estimate_from_another_upgrade_path_or_a_faulted_run(
        tmp_path: Path) -> None:
    """Operator trial: a 10.9-to-11.1 rehearsal was "about 3.6s left" by a
    6.2-to-11.1 one, which had a dropped connection rehearsed in its cutover.
    Another path is another procedure's time; a fault's wait is no cutover's."""
    journal(tmp_path / "same.jsonl", rehearsal=True, pace=FAST, downtime=16.0, ago=3 * HOUR,
            scenario="10.9-to-11.1")
    # Recorded before the path was (review): any path, faults unsaid.
    journal(tmp_path / "unsaid.jsonl", rehearsal=True, pace=FAST, downtime=9.0,
            ago=2.5 * HOUR)
    journal(tmp_path / "faulted.jsonl", rehearsal=True, pace=FAST, downtime=40.0, ago=2 * HOUR,
            scenario="10.9-to-11.1", faults=("ssh-drop@backup-live",))
    journal(tmp_path / "other.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR,
            scenario="6.2-to-11.1")
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=FAST, scenario="10.9-to-11.1")
    assert estimate(now, tmp_path) == 16.0
    # A production run knows no scenario: a real-pace rehearsal of any path
    # still stands for it, as before, but not one with a fault rehearsed.
    journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE, downtime=410.0,
            ago=2 * HOUR, scenario="6.2-to-11.1")
    journal(tmp_path / "real-faulted.jsonl", rehearsal=True, pace=cloud.REAL_PACE,
            downtime=900.0, ago=HOUR, scenario="6.2-to-11.1", faults=("slow-start",))
    production = journal(tmp_path / "production.jsonl", rehearsal=False)
    assert estimate(production, tmp_path) == 410.0


def test_a_rehearsal_session_asks_for_runs_of_its_path_without_faults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the TUI and headless show while the run goes, as the report."""
    from runbook.cli.wiring import plan_settings, session

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    journal(tmp_path / "same.jsonl", rehearsal=True, pace=FAST, downtime=16.0, ago=2 * HOUR,
            scenario="5.1-to-6.2")
    journal(tmp_path / "other.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR,
            scenario="6.2-to-11.1")
    settings = replace(plan_settings(None), rehearsal_pace=FAST,
                       rehearsal_scenario="5.1-to-6.2")
    run = session(settings, token="t0ken", state_dir=tmp_path / "state",
                  journal_path=tmp_path / "now.jsonl")
    found = run.downtime_estimate()
    assert found is not None and found[0] == 16.0


def test_a_session_asks_for_runs_answered_as_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI and headless ask the session: a --yes run (headless only) is
    timed against --yes runs, one at the keys against runs at the keys."""
    from runbook.cli.wiring import plan_settings, session

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    journal(tmp_path / "by-hand.jsonl", rehearsal=True, pace=FAST, downtime=16.0, ago=2 * HOUR)
    journal(tmp_path / "yes.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR,
            unattended=True)
    for unattended, expected in ((True, 5.2), (False, 16.0)):
        settings = replace(plan_settings(None), rehearsal_pace=FAST, unattended=unattended)
        run = session(settings, token="t0ken", state_dir=tmp_path / "state",
                      journal_path=tmp_path / "now.jsonl")
        found = run.downtime_estimate()
        assert found is not None and found[0] == expected, unattended


def _head(text: str) -> dict[str, str]:
    """The summary table at the top: row name -> value, as a reader sees it."""
    rows = [line.replace("\\", "").split(" | ") for line in text.split("\n## ", 1)[0].splitlines()
            if line.startswith("| ")]
    return {row[0].lstrip("| ").strip(): row[1].rstrip(" |") for row in rows if len(row) == 2}


def _downtime(text: str) -> str:
    return text.split("## Downtime", 1)[1].split("\n## ", 1)[0].replace("\\", "")


def test_a_rehearsals_report_says_the_pace_it_ran_at(tmp_path: Path) -> None:
    """Operator trial: the pace was never shown, so a reader could not tell a
    fast rehearsal's 5 s from a real cutover's, nor what the estimate was."""
    fast = journal(tmp_path / "fast.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR)
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=FAST, downtime=4.9)
    report = build(now, estimate_from=[tmp_path])
    text = markdown(report)
    assert _head(text)["Pace"] == "fast: the fake cloud goes 40 times faster than a real one"
    row = next(line for line in _downtime(text).splitlines() if "fast.jsonl" in line)
    assert row.startswith(f"| last rehearsal at the fast pace (`{fast}`) |"), row
    page = html(report)
    assert "<th>Pace</th><td>fast: the fake cloud goes 40 times faster than a real one</td>" \
        in page
    assert "last rehearsal at the fast pace" in page

    real = journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE)
    assert _head(markdown(build(real, estimate_from=[])))["Pace"] == \
        "real: the fake cloud takes as long as a real one"
    half = journal(tmp_path / "half.jsonl", rehearsal=True, pace=0.5)
    assert _head(markdown(build(half, estimate_from=[])))["Pace"] == \
        "0.5: the fake cloud goes 2 times faster than a real one"
    slow = journal(tmp_path / "slow.jsonl", rehearsal=True, pace=3.0)
    assert _head(markdown(build(slow, estimate_from=[])))["Pace"] == \
        "3: the fake cloud takes 3 times as long as a real one"
    unknown = journal(tmp_path / "unknown.jsonl", rehearsal=True)
    assert _head(markdown(build(unknown, estimate_from=[])))["Pace"].startswith(
        "not on record")


def test_the_pace_reads_as_plain_numbers_at_its_extremes() -> None:
    """Review: a pace of 0.00001 read "1e+05 times faster", and one a hair
    under real "1 times faster"."""
    assert pace_words(0.00001) == \
        "0.00001: the fake cloud goes 100,000 times faster than a real one"
    assert pace_words(0.001) == "0.001: the fake cloud goes 1,000 times faster than a real one"
    assert pace_words(0.999999) == \
        "0.999999: the fake cloud goes about as fast as a real one"
    assert pace_words(1.0004) == "1.0004: the fake cloud goes about as fast as a real one"
    assert pace_words(2500) == \
        "2500: the fake cloud takes 2,500 times as long as a real one"
    assert pace_words(1e6) == \
        "1000000: the fake cloud takes 1,000,000 times as long as a real one"
    assert pace_words(1e23) == \
        "1e+23: the fake cloud takes over a million times as long as a real one"


def test_a_production_runs_report_has_no_pace_line(tmp_path: Path) -> None:
    """A production run goes at a real cloud's pace by definition; the
    estimate's source still says its pace when it was a rehearsal."""
    journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE, downtime=410.0,
            ago=HOUR)
    now = journal(tmp_path / "now.jsonl", rehearsal=False, downtime=380.0)
    report = build(now, estimate_from=[tmp_path])
    text = markdown(report)
    assert "Pace" not in _head(text) and "<th>Pace</th>" not in html(report)
    assert "| last rehearsal at the real pace (`" in _downtime(text)


def test_a_production_run_set_against_a_rehearsal_says_what_the_rehearsal_timed(
        tmp_path: Path) -> None:
    """Facts audit 56a (L7): a real-pace rehearsal paces only the fake cloud
    (node boot and teardown); the server's start and the nodegroups are the
    rehearsal's. Set against one, a production run's report gave its time
    alone; it says what it timed, and the procedure's own 15-60 minutes."""
    journal(tmp_path / "real.jsonl", rehearsal=True, pace=cloud.REAL_PACE, downtime=410.0,
            ago=HOUR)
    now = journal(tmp_path / "now.jsonl", rehearsal=False, downtime=380.0)
    report = build(now, estimate_from=[tmp_path])
    for text in (_downtime(markdown(report)), html(report)):
        assert "times only its fake cloud" in text and "15 to 60 minutes" in text, text
    # Set against a production run, there is nothing to say.
    (tmp_path / "real.jsonl").unlink()
    journal(tmp_path / "earlier.jsonl", rehearsal=False, downtime=410.0, ago=HOUR)
    text = _downtime(markdown(build(now, estimate_from=[tmp_path])))
    assert "earlier.jsonl" in text and "fake cloud" not in text, text


def test_the_estimates_source_says_it_was_answered_by_yes_too(tmp_path: Path) -> None:
    """A run answered by --yes is set only against runs answered so: its
    report says so beside the pace, or "last rehearsal at the fast pace" reads
    as any fast rehearsal."""
    journal(tmp_path / "yes.jsonl", rehearsal=True, pace=FAST, downtime=5.2, ago=HOUR,
            unattended=True)
    now = journal(tmp_path / "now.jsonl", rehearsal=True, pace=FAST, unattended=True,
                  downtime=5.0)
    text = markdown(build(now, estimate_from=[tmp_path]))
    assert "| last rehearsal at the fast pace answered by --yes (`" in _downtime(text)
    # Review: a run that never reached the cutover read "The last rehearsal at
    # the fast pace, answered by --yes took 5.2 s": one comma, not a pair.
    short = journal(tmp_path / "short.jsonl", rehearsal=True, pace=FAST, unattended=True)
    said = markdown(build(short, estimate_from=[tmp_path])).replace("\\", "")
    assert "The last rehearsal at the fast pace answered by --yes took " in said, said


async def test_a_run_against_a_rehearsal_host_is_no_estimate(tmp_path: Path) -> None:
    """Trial 59 F5: `runbook run` against a rehearsal host (a config with no
    [rehearsal] table, as the README has it) was journalled as a production
    run at the real pace, and its two-minute cutover became the next real
    run's estimate. Its preflight finds the host is a rehearsal's (its SSH
    sessions carry the sandbox's marker): the run's pace is not known, so it
    is no estimate for anything."""
    from runbook.executor import Outcome
    from runbook.journal_replay import replay
    from tests.rehearsal import rehearsal_host, rehearsal_session, rehearsal_settings
    from tests.scripted import ScriptedFrontEnd

    runs = tmp_path / "runs"
    runs.mkdir()
    async with rehearsal_host(tmp_path) as host:
        settings = replace(rehearsal_settings(host), rehearsal=False, rehearsal_pace=None,
                           rehearsal_scenario=None, rehearsal_stand_ins=False)
        front = ScriptedFrontEnd()
        outcome = await rehearsal_session(host, runs / "against.jsonl", settings).run(front)
        assert outcome is Outcome.DONE, front.text()[-3000:]
    # Nor does the run itself go by an estimate once it knows (the README:
    # "and gets none"): the front ends are told to drop the one they had.
    told = [e for e in front.events if type(e).__name__ == "NoEstimate"]
    assert told, "the front ends were not told the run has no estimate"
    against = replay(runs / "against.jsonl")
    assert against.downtime_s is not None
    assert against.pace is None
    now = journal(tmp_path / "now.jsonl", rehearsal=False)
    assert estimate(now, runs) is None
    # Its report neither (review 59c L3: it took its pace from the run-starts).
    from runbook import report

    assert report.build(runs / "against.jsonl").pace is None


def test_the_screen_and_headless_drop_the_estimate_when_told() -> None:
    """Trial 59 F5: the run's own status bar went by an estimate (`~Xm
    left`) that a run on a rehearsal host has none of."""
    import io

    from runbook.events import NoEstimate
    from runbook.headless import HeadlessFrontEnd
    from screens.run_state import RunState

    state = RunState(cards=[], target="sm")
    state.estimate_s = 144.0
    state.apply(NoEstimate("on a rehearsal host"), 0.0)
    assert state.estimate_s is None and state.no_estimate
    front = HeadlessFrontEnd([], out=io.StringIO(), stdin=io.StringIO(),
                             estimate=(144.0, Path("earlier.jsonl")))
    front.tell(NoEstimate("on a rehearsal host"))
    assert front.estimate is None
