"""The headless front end asks what the TUI asks (issue 11): the step id typed for
destructive and cutover steps, and a look at new defaults before they go in.

Driven the way an operator drives it: answers on stdin, through the real front end and,
end to end, through `runbook rehearse --headless` against the rehearsal host.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import io
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import javaproperties
import pytest

from runbook.events import CutoverStarted, Output, Progress, RunEnded, StepChanged
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.headless import HeadlessFrontEnd
from runbook.model import Leaves, Phase, StepCard, StepReport, StepState
from runbook.properties import Review, review_files
from tests.rehearsal import rehearsal_host, rehearsal_session, rehearsal_settings

NEW_RELEASE = "red5pro-server-11.1.0.b835-release"
PROPERTIES = "webapps/streammanager/WEB-INF/red5-web.properties"

ROOT = Path(__file__).parents[1]
STATE = Path(tempfile.mkdtemp(prefix="runbook-test-state-"))
# Gone with the test run, however it ends short of kill -9.
atexit.register(shutil.rmtree, STATE, True)
# What a fresh rehearsal asks before cutover, in order: y, or the id of a step that
# deletes or moves files.
PREPARE_ANSWERS = "".join(f"{answer}\n" for answer in (
    "y", "y", "y", "y", "y", "y", "strip-autoscale", "y", "y", "y"))

CUTOVER = StepCard(11, "delete-nodegroups", "Delete every nodegroup", Phase.CUTOVER,
                   "Deletes every nodegroup.", skippable=False)
UPLOAD = StepCard(4, "upload", "Upload the distribution", Phase.PREPARE, "Copies it.")
UNPACK = StepCard(5, "unpack", "Unpack", Phase.PREPARE, "Unzips it.", destructive=True)


class Keyboard(io.StringIO):
    """Answers typed at a terminal, one by one, as an operator at the keys does."""

    def isatty(self) -> bool:
        return True


def front(answers: str, *cards: StepCard, assume_yes: bool = False,
          out: io.StringIO | None = None, estimate: tuple[float, Path] | None = None,
          piped: bool = False) -> tuple[HeadlessFrontEnd, io.StringIO]:
    """The headless front end answered at the keys, or `piped`."""
    shown = out or io.StringIO()
    stdin = io.StringIO(answers) if piped else Keyboard(answers)
    return HeadlessFrontEnd(cards, assume_yes=assume_yes, out=shown,
                            stdin=stdin, estimate=estimate), shown


def confirm(headless: HeadlessFrontEnd, step_id: str, *, way_back_open: bool = False
            ) -> Decision:
    """Ask about `step_id`; `way_back_open`: the engine says the way back can
    be the answer."""
    return asyncio.run(headless.confirm(StepReport(step_id, way_back_open=way_back_open), []))


def runbook(*args: str, stdin: str = "", env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    environ["XDG_STATE_HOME"] = str(STATE)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=environ)


# --- what a line belongs to ---------------------------------------------------------


def test_a_step_found_done_without_asking_gets_its_own_heading() -> None:
    """Operator trial: a step whose check found it done was never asked about,
    so its "already done" line printed under the step before, even under the
    previous phase's heading."""
    headless, shown = front("", UPLOAD, UNPACK, CUTOVER, assume_yes=True)
    confirm(headless, "upload")
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "copied", 1.0)))
    headless.tell(StepChanged(StepReport("unpack", StepState.DONE, "already done: unpacked")))
    headless.tell(StepChanged(StepReport("delete-nodegroups", StepState.DONE,
                                         "already done: none left")))
    text = shown.getvalue()
    assert text.index("[unpack] Unpack") < text.index("already done: unpacked"), text
    assert text.index("=== CUTOVER") < text.index("[delete-nodegroups]") \
        < text.index("already done: none left"), text


def test_a_step_that_speaks_before_its_question_is_headed_once() -> None:
    """Review: a line said before the question ("skipped in the earlier run")
    brought the heading, and the question printed it again, the second time
    with the destructive tag the first lacked."""
    from runbook.events import Output

    headless, shown = front("", UNPACK, assume_yes=True)
    headless.tell(Output("unpack", "info", "in doubt: the earlier run started it"))
    confirm(headless, "unpack")
    text = shown.getvalue()
    assert text.count("[unpack] Unpack") == 1, text
    assert "[DESTRUCTIVE]" in text.split("in doubt")[0], text


def test_a_long_wait_prints_fewer_lines_as_it_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: a line every 2 s, so 150 lines for a 5-minute wait.
    Often at first, when the end may be near; then further apart."""
    from runbook import headless as module
    from runbook.events import Progress

    now = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    headless, shown = front("", CUTOVER, assume_yes=True)
    for tick in range(600):  # a look every half second for 300 s
        now[0] = 1000.0 + tick * 0.5
        headless.tell(Progress("delete-nodegroups", tick * 0.5, 600,
                               f"waiting for the nodegroups: {600 - tick * 0.5:.0f}s left"))
    lines = [line for line in shown.getvalue().splitlines() if "~ waiting" in line]
    first_ten = [line for line in lines if int(line.split(": ")[1].split("s")[0]) >= 590]
    assert len(first_ten) >= 5, lines  # prompt at first
    assert len(lines) <= 50, len(lines)
    # The step's next wait (start-service's after a restart) starts its count
    # again, and is followed closely again (review).
    before = shown.getvalue().count("~ again")
    for tick in range(20):
        now[0] = 1300.0 + tick * 0.5
        headless.tell(Progress("delete-nodegroups", tick * 0.5, 600, f"again {tick}"))
    assert shown.getvalue().count("~ again") - before >= 4, shown.getvalue()[-500:]


# --- typed confirmation ------------------------------------------------------------


def test_a_cutover_step_takes_its_id_typed_not_y() -> None:
    headless, shown = front("y\ndelete-nodegroup\ndelete-nodegroups\n", CUTOVER)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
    text = shown.getvalue()
    assert text.count("type delete-nodegroups to run it, or [q] stop") == 3  # and twice again
    assert "y is not enough here" in text
    assert "that is not delete-nodegroups" in text
    # A cutover step cannot be skipped, so skipping is not offered.
    assert "[s] skip" not in text


@pytest.mark.parametrize(("card", "answers"), [
    (UNPACK, "y\ns\nnot needed on this host\n"),  # y meant the step before
    (CUTOVER, "delete-nodegroup\ndelete-nodegroups\n"),
    (UPLOAD, "s\n\nchecked by hand\ny\n"),  # a skip without its reason
])
def test_piped_answers_stop_at_the_first_that_does_not_fit_its_question(
        card: StepCard, answers: str) -> None:
    """Piped answers are read in order, one a question. One its question
    refused was followed by asking again, and the next line, meant for the next
    question, answered this one instead: `y` for unpack (destructive: its id
    is needed) made the next question's `s` and its reason skip unpack (code
    review, stop 46). From a pipe, nobody sees the refusal: the run stops there,
    and says which answer did not fit."""
    headless, shown = front(answers, card, piped=True)
    asked = asyncio.run(headless.confirm(StepReport(card.id), []))
    assert asked == Decision(Answer.STOP), shown.getvalue()
    text = shown.getvalue()
    assert "came from a pipe" in text and "stopping here" in text, text
    assert "ssh -t" in text, text  # a person typing over ssh without a terminal
    at_the_keys, typed = front(answers, card)  # typed: refused, and asked again
    assert asyncio.run(at_the_keys.confirm(StepReport(card.id), [])) != Decision(Answer.STOP)
    refusal = {UNPACK.id: "y is not enough here", CUTOVER.id: "that is not delete-nodegroups",
               UPLOAD.id: "a skip needs a reason"}[card.id]
    assert refusal in typed.getvalue() and refusal in text, typed.getvalue()


def test_a_piped_answer_the_failure_prompt_refuses_stops_too() -> None:
    headless, shown = front("r\nt\n", CUTOVER, piped=True)
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                          can_roll_back=False))
    assert chosen is Recovery.STOP and "came from a pipe" in shown.getvalue()


def test_a_destructive_prepare_step_takes_its_id_too_and_can_be_skipped() -> None:
    headless, shown = front("y\ns\nunpacked by hand\n", UNPACK)
    assert confirm(headless, "unpack") == Decision(Answer.SKIP, "unpacked by hand")
    assert "type unpack to run it, [s] skip or [q] stop" in shown.getvalue()


def test_the_end_of_input_stops_rather_than_runs() -> None:
    headless, _ = front("", CUTOVER)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.STOP)


def test_an_ordinary_step_still_takes_y() -> None:
    headless, shown = front("y\n", UPLOAD)
    assert confirm(headless, "upload") == Decision(Answer.RUN)
    assert "[y] run" in shown.getvalue()


def test_a_refused_answer_names_every_answer_offered() -> None:
    """Re-trial (stop 48): at a question offering [y] run [s] skip [r] roll
    back [q] stop, `yes` was refused with "answer y, s or q"."""
    headless, shown = front("yes\nq\n", UPLOAD)
    headless.tell(CutoverStarted("delete-nodegroups", time.time()))
    assert confirm(headless, "upload", way_back_open=True) == Decision(Answer.STOP)
    assert "answer y, s, r or q" in shown.getvalue(), shown.getvalue()


def test_yes_answers_for_the_operator_and_says_so() -> None:
    headless, shown = front("", CUTOVER, assume_yes=True)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
    assert "-> run (--yes)" in shown.getvalue()


def test_a_rehearsal_headless_runs_a_cutover_step_only_once_its_id_is_typed(
    tmp_path: Path,
) -> None:
    """Typed, its id runs it (test_a_cutover_step_takes_its_id_typed_not_y);
    piped, a `y` there stops the run, and the nodegroups stay."""
    journal = tmp_path / "j.jsonl"
    for answers, ran in (("y\ndelete-nodegroups\nq\n", False),
                         ("delete-nodegroups\nq\n", True)):
        journal.unlink(missing_ok=True)
        result = runbook("rehearse", "--headless", "--journal", str(journal),
                         stdin=PREPARE_ANSWERS + answers)
        assert result.returncode == 3, result.stdout[-3000:] + result.stderr
        assert ("y is not enough here" in result.stdout) is not ran, result.stdout[-2000:]
        records = [json.loads(line) for line in journal.read_text().splitlines()]
        confirmed = [(r["step"], r["answer"]) for r in records if r["event"] == "confirm"]
        assert confirmed[-1] == (("backup-live", "stop") if ran else ("delete-nodegroups", "stop"))
        ended = {r["step"]: r["state"] for r in records if r["event"] == "step-end"}
        assert ("delete-nodegroups" in ended) is ran and "backup-live" not in ended
        assert "Traceback" not in result.stderr
        # Said in the journal, so its report names commands that go on headless,
        # as the exit lines do (operator trial and re-trial, stop 48).
        assert records[0]["event"] == "run-start" and records[0].get("headless") is True


def test_piped_answers_cannot_take_a_skipped_properties_step_into_the_cutover(
    tmp_path: Path,
) -> None:
    """Trial 53: `rehearse --headless`, `s` and a reason at properties, then
    the ids: one warning line, and the piped id began a cutover whose new
    release read config.dbHost={host}. The cutover now does not begin, and
    the id meant for it does not answer the refusal's question."""
    journal = tmp_path / "j.jsonl"
    answers = PREPARE_ANSWERS.splitlines()
    answers[8:9] = ["s", "done by hand"]  # properties
    result = runbook("rehearse", "--headless", "--journal", str(journal),
                     stdin="\n".join(answers) + "\ndelete-nodegroups\nbackup-live\n")
    said = result.stdout + result.stderr
    assert result.returncode == 1, said[-3000:]
    assert "the cutover cannot begin: properties was skipped (done by hand)" in said, said[-3000:]
    # A throwaway rehearsal's host goes as it ends: --resume has nothing to
    # go on with. What helps is said instead: a new rehearsal, or t.
    assert "--resume" not in said, said[-3000:]
    assert "rehearse again and let properties run" in said, said[-3000:]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "cutover-start"]
    confirmed = [(r["step"], r["answer"]) for r in records if r["event"] == "confirm"]
    assert ("properties", "skip") in confirmed and \
        not [c for c in confirmed if c[0] == "delete-nodegroups"], confirmed
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("said_before", [False, True], ids=["headed by the question",
                                                             "headed by its output"])
def test_a_step_destructive_this_time_is_headed_destructive(said_before: bool) -> None:
    """Review 56b F5: upload asked with a plan that deletes (destructive_now)
    wants its id typed, but its heading, printed from the card, left out
    [DESTRUCTIVE]; so did a heading its output printed before the question."""
    headless, shown = front("upload\n", UPLOAD)
    if said_before:
        headless.tell(Output("upload", "cmd", "$ ls /usr/local"))
    answer = asyncio.run(headless.confirm(StepReport("upload", destructive_now=True), []))
    assert answer == Decision(Answer.RUN)
    text = shown.getvalue()
    assert "[DESTRUCTIVE]" in text.split("type upload")[0], text


# --- colour ------------------------------------------------------------------------


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    """One cutover step asked and failed, with the output on a pseudo-terminal."""
    monkeypatch.setenv("TERM", "xterm")
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    main, side = pty.openpty()
    with open(side, "w", encoding="utf-8") as terminal:
        headless = HeadlessFrontEnd([CUTOVER], out=terminal,
                                    stdin=io.StringIO("delete-nodegroups\n"))
        assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
        headless.tell(StepChanged(StepReport("delete-nodegroups", StepState.FAILED, "gone")))
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: nothing more, the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_none_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    coloured = on_a_terminal(monkeypatch, None)
    assert "\x1b[" in coloured and "DESTRUCTIVE" in coloured and "FAILED" in coloured
    plain = on_a_terminal(monkeypatch, "1")
    assert "\x1b" not in plain and "[DESTRUCTIVE]" in plain and "[FAILED" in plain
    # NO_COLOR set but empty does not count (no-color.org).
    assert "\x1b[" in on_a_terminal(monkeypatch, "")


# --- new defaults are asked about, not taken in silence ----------------------------

DATA = ROOT / "tests" / "data" / "properties"
NEW_DEFAULTS = [
    "store.usageStatsDiscardThresholdDays",
    "instancecontroller.checkCorruptedNodes",
    "instancecontroller.corruptedNodeCheckInterval",
    "instancecontroller.corruptedNodesEndPoint",
    "instancecontroller.httptimeout",
]


def new_defaults_review(**sets: str) -> Review:
    """The live fixture against the 6.2.0 template: five new defaults nobody confirmed."""
    return review_files(DATA / "red5-web.properties.live",
                        DATA / "red5-web.properties.6.2.0.b406",
                        overrides={"serverapi.accessToken": "node-tok-9", **sets})


def ask_review(headless: HeadlessFrontEnd, subject: Review) -> bool:
    return asyncio.run(headless.review("properties", subject, decisions_path=None))


def test_new_defaults_are_listed_and_taken_only_on_a_yes() -> None:
    subject = new_defaults_review()
    assert subject.unconfirmed == NEW_DEFAULTS
    headless, shown = front("n\n", UPLOAD)
    assert ask_review(headless, subject) is False
    assert subject.unconfirmed == NEW_DEFAULTS  # nothing taken
    text = shown.getvalue()
    assert "5 new defaults nobody has confirmed" in text
    assert "instancecontroller.httptimeout = 30000" in text
    assert "type take to take them as they are" in text

    headless, shown = front("take\n", UPLOAD)
    assert ask_review(headless, subject) is True
    assert subject.unconfirmed == [] and subject.open_keys == []
    assert subject["instancecontroller.httptimeout"].merged == "30000"


def test_a_live_value_under_a_new_key_name_is_listed_apart_and_take_keeps_it() -> None:
    """Review 57d M2: 6.2.0's Simulated bean reads managed.recycleDeadNodes
    where 5.1.1's read instancecontroller.recycleDeadNodes. The live false
    offered for it is not listed as a new default, and take keeps it."""
    from runbook.properties import review
    from runbook.rehearsal import sandbox

    key = "managed.recycleDeadNodes"
    subject = review(sandbox.data_text("red5-web.properties.5.1.1.236").replace(
        "instancecontroller.recycleDeadNodes=true", "instancecontroller.recycleDeadNodes=false"),
        sandbox.data_text("red5-web.properties.6.2.0.b406"),
        overrides={"config.dbHost": "db", "config.dbUser": "u", "config.dbPass": "p"},
        needs={key: "GenericSimulatedCloudController"},
        read_before={key: "instancecontroller.recycleDeadNodes"})
    subject.set_value("cluster.password", "clu-pass-9")
    assert key in subject.unconfirmed and subject.undecided == []
    headless, shown = front("take\n", UPLOAD)
    assert ask_review(headless, subject) is True, shown.getvalue()
    text = shown.getvalue()
    assert ("1 live value under a new key name nobody has confirmed yet:\n"
            f"    {key} = false   (from instancecontroller.recycleDeadNodes, live line 22)"
            ) in text, text
    assert subject[key].merged == "false"


@pytest.mark.parametrize("piped", [True, False])
def test_a_y_meant_for_the_next_step_takes_no_new_default(piped: bool) -> None:
    """The review asks its own question right after `run it? [y]`: a `y` meant
    for the next step (piped, or pressed twice) took every value nobody had
    confirmed, and the merge was written (operator trial, stop 46). Taking
    them is a decision like a destructive step's: typed in full."""
    subject = new_defaults_review()
    headless, shown = front("y\ny\n", UPLOAD, piped=piped)
    assert ask_review(headless, subject) is False
    assert subject.unconfirmed == NEW_DEFAULTS, shown.getvalue()


def test_after_a_piped_answer_is_refused_nothing_more_is_read() -> None:
    """A refused piped answer stops the run: the questions that follow (the
    failure's try again, the next step's) must not read the lines meant for
    the steps after it."""
    headless, _ = front("y\nt\ndelete-nodegroups\n", UNPACK, CUTOVER, piped=True)
    assert confirm(headless, "unpack") == Decision(Answer.STOP)
    chosen = asyncio.run(headless.recover(StepReport(UNPACK.id, detail="boom"),
                                          can_roll_back=False))
    assert chosen is Recovery.STOP
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.STOP)
    assert headless.stdin.read() == "t\ndelete-nodegroups\n", "a later line was read"


def test_yes_takes_the_new_defaults_and_names_them() -> None:
    subject = new_defaults_review()
    headless, shown = front("", UPLOAD, assume_yes=True)
    assert ask_review(headless, subject) is True
    assert subject.open_keys == []
    assert "taken as they are (--yes)" in shown.getvalue()
    for key in NEW_DEFAULTS:
        assert key in shown.getvalue()


def test_a_key_without_a_value_is_not_asked_about_here() -> None:
    # serverapi.accessToken has no value: only the decisions file or the editor gives one.
    subject = review_files(DATA / "red5-web.properties.live",
                           DATA / "red5-web.properties.6.2.0.b406")
    headless, shown = front("", UPLOAD, assume_yes=True)
    assert ask_review(headless, subject) is False
    assert "serverapi.accessToken" in shown.getvalue()
    assert subject.undecided == ["serverapi.accessToken"]


def test_keys_reopened_since_the_review_are_named_as_such_not_as_without_a_value(
    tmp_path: Path,
) -> None:
    """Trial 53: after the live file changed, "3 keys still without a value",
    though cluster.password has one: the three were to be decided again."""
    from tests.test_properties import reviewed_then_changed

    subject = reviewed_then_changed(tmp_path)
    headless, shown = front("", UPLOAD, assume_yes=True)
    assert ask_review(headless, subject) is False
    text = shown.getvalue()
    assert "without a value" not in text, text
    assert "3 keys to decide again" in text, text
    lines = text.splitlines()
    for key, why in (("my.new.key", "added to the live file"),
                     ("debug.logaccess", "gone from the live file"),
                     ("cluster.password", "the live value changed")):
        line = next(line for line in lines if line.strip().startswith(f"{key} "))
        assert why in line, line
    # Left out, not blank: the merge drops a live-only key until kept.
    assert "my.new.key (left out of the merged file)" in text, text
    assert "cl-rotated" not in text


async def test_the_properties_step_in_a_rehearsal_asks_before_new_defaults_go_in(
    tmp_path: Path,
) -> None:
    # The review ahead of the window decided the blank key but never confirmed the
    # release's new default, spring.jackson.default-property-inclusion.
    decisions = tmp_path / "decisions.toml"
    decisions.write_text('[keys."default.server.application"]\naction = "set"\n'
                         'value = "live"\n')
    async with rehearsal_host(tmp_path) as host:
        # Headless, as the cli makes it: the step fails where the TUI's review pauses.
        settings = dataclasses.replace(rehearsal_settings(host, decisions=str(decisions)),
                                       headless=True)
        answers = (PREPARE_ANSWERS.rsplit("y\n", 2)[0]  # up to the properties step
                   + "y\n" + "n\n"     # run it; the new default: not now
                   + "t\n" + "y\n"     # the step failed: try again, run it
                   + "take\n"          # take the new default
                   + "q\n")            # stop before the schema
        shown = io.StringIO()
        run = rehearsal_session(host, tmp_path / "j.jsonl", settings)
        outcome = await run.run(HeadlessFrontEnd(run.cards, out=shown,
                                                 stdin=io.StringIO(answers)))
        merged = javaproperties.loads(
            (host.install_dir / NEW_RELEASE / PROPERTIES).read_text())
    text = shown.getvalue()
    assert outcome is Outcome.STOPPED, text[-3000:]
    assert "1 new default nobody has confirmed" in text
    assert "spring.jackson.default-property-inclusion = non_null" in text
    # Declined, the step stopped short of writing and said what to do.
    assert "1 value needs confirming (spring.jackson.default-property-inclusion)" in text
    assert merged["spring.jackson.default-property-inclusion"] == "non_null"
    assert merged["config.dbHost"] == host.new_db[0]
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    ends = [(r["step"], r["state"]) for r in records if r["event"] == "step-end"]
    assert ("properties", "failed") in ends and ends[-1] == ("properties", "done")


def test_the_way_back_has_its_own_heading_not_the_cutovers() -> None:
    """The rollback steps come after the cutover's: the stream manager has been
    down all along, and 'downtime starts with the first step' would be false."""
    back = StepCard(18, "rollback-stop-new", "Stop the new release", Phase.ROLLBACK,
                    "Stops it.", skippable=False)
    headless, shown = front("y\ny\n", CUTOVER, back, assume_yes=True)
    confirm(headless, "delete-nodegroups")
    confirm(headless, "rollback-stop-new")
    headings = [line for line in shown.getvalue().splitlines() if line.startswith("===")]
    assert len(headings) == 2 and headings[0].startswith("=== CUTOVER")
    assert "WAY BACK" in headings[1] and "downtime starts" not in headings[1]


@pytest.mark.parametrize(("outcome", "words"), [
    (Outcome.DONE, "done"), (Outcome.FAILED, "failed"), (Outcome.STOPPED, "stopped"),
    (Outcome.ROLLED_BACK, "rolled back")])
def test_the_summary_says_how_the_run_ended_in_words(outcome: Outcome, words: str) -> None:
    """Operator trial: a headless way back ended on `outcome: rolled-back`, the
    journal's token, where the TUI and the report say it in words."""
    from runbook.events import RunEnded

    headless, shown = front("")
    headless.tell(RunEnded(outcome.value, outcome.exit_code))
    assert shown.getvalue().endswith(f"\noutcome: {words}\n"), shown.getvalue()


def test_the_way_back_is_r_as_in_the_tui() -> None:
    """Operator trial: the TUI's failure dialog takes r to roll back, the
    headless prompt took b and refused r. Both keys now take it, once
    confirmed with y; r is shown."""
    for key in ("r", "b"):
        headless, shown = front(f"{key}\ny\n", CUTOVER)
        chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                              can_roll_back=True))
        assert chosen is Recovery.ROLLBACK, shown.getvalue()
        assert "[r] roll back" in shown.getvalue()
    headless, shown = front("r\n", CUTOVER)
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                          can_roll_back=False))
    assert chosen is Recovery.STOP and "answer t or q" in shown.getvalue()


def test_a_failure_a_retry_cannot_mend_offers_no_try_again() -> None:
    """Re-trial (stop 49): delete-nodegroups refused for a fleet changed since
    its snapshot offered "try again", which met the same refusal word for
    word; only a resumed run takes the snapshot again."""
    refused = StepReport(CUTOVER.id, detail="the fleet changed", retry_helps=False)
    headless, shown = front("t\n", CUTOVER)
    assert asyncio.run(headless.recover(refused, can_roll_back=False)) is Recovery.STOP
    assert "try again" not in shown.getvalue() and "refused the same way" in shown.getvalue()
    headless, shown = front("t\nq\n", CUTOVER)
    assert asyncio.run(headless.recover(refused, can_roll_back=True)) is Recovery.STOP
    assert "[t]" not in shown.getvalue() and "answer r or q" in shown.getvalue()


def test_while_the_stream_manager_is_down_a_step_can_be_answered_with_the_way_back() -> None:
    """Nothing failed, but the operator will not go on: with the cutover begun,
    r at the step's question chooses the way back (the engine takes it); before
    the cutover began, r is no answer and is not offered."""
    stop = StepCard(14, "stop-service", "Stop the old server", Phase.CUTOVER,
                    "Kills it.", skippable=False, destructive=True)
    headless, shown = front("r\ny\n", CUTOVER, stop)
    headless.tell(CutoverStarted("delete-nodegroups", time.time()))
    assert confirm(headless, "stop-service", way_back_open=True) == Decision(Answer.ROLLBACK)
    assert "type stop-service to run it, [r] roll back to the old stream manager or [q] " \
        "stop" in shown.getvalue()
    headless, shown = front("r\nq\n", CUTOVER)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.STOP)
    assert "[r] roll back" not in shown.getvalue()


def test_the_way_back_is_offered_at_a_question_as_the_engine_says() -> None:
    """Review 56b, F4: headless offered [r] by its own reckoning of the
    events (the stream manager down, no way back begun), where the engine
    has the last word (a resumed run whose cutover completed: the stream
    manager serves, and the engine refuses the way back). It offers what the
    step's report says (StepReport.way_back_open), and no more."""
    headless, shown = front("r\nq\n", CUTOVER)
    headless.tell(CutoverStarted("delete-nodegroups", time.time()))
    asked = StepReport(CUTOVER.id, way_back_open=False)
    assert asyncio.run(headless.confirm(asked, [])) == Decision(Answer.STOP)
    assert "[r] roll back" not in shown.getvalue(), shown.getvalue()
    headless, shown = front("r\ny\n", CUTOVER)
    asked = StepReport(CUTOVER.id, way_back_open=True)
    assert asyncio.run(headless.confirm(asked, [])) == Decision(Answer.ROLLBACK)
    assert "[r] roll back" in shown.getvalue(), shown.getvalue()


def test_a_line_typed_during_a_wait_does_not_answer_the_next_question() -> None:
    """Operator trial (stop 48): at a terminal, `backup-live` typed while
    delete-nodegroups waited for the nodegroups to go was read as the answer
    to backup-live's question the moment it was asked: the live install was
    moved aside before its plan was on the screen. What was typed before a
    question is shown is dropped, and said; the TUI takes no keys ahead."""
    main, side = pty.openpty()
    shown = io.StringIO()
    with os.fdopen(side, "r", encoding="utf-8") as keys:
        headless = HeadlessFrontEnd([CUTOVER], out=shown, stdin=keys)
        os.write(main, f"{CUTOVER.id}\n".encode())  # typed during the wait before it

        async def asked() -> Decision:
            question = asyncio.create_task(headless.confirm(StepReport(CUTOVER.id), []))
            for _ in range(300):
                if f"type {CUTOVER.id} to run it" in shown.getvalue() or question.done():
                    break
                await asyncio.sleep(0.01)
            os.write(main, b"q\n")  # typed once the plan and the question are shown
            return await question

        try:
            answer = asyncio.run(asked())
        finally:
            os.close(main)
    assert answer == Decision(Answer.STOP), shown.getvalue()
    assert "typed before this question" in shown.getvalue(), shown.getvalue()


@pytest.mark.parametrize("piped", [False, True])
def test_the_way_back_is_taken_only_once_confirmed_with_y(piped: bool) -> None:
    """Operator trial (stop 48): one r, at a step's question or a failed
    step's, began the way back, which cannot be undone: the TUI asks "Roll
    back (y)" first, and the README says headless asks as hard. n goes back
    to the question; stdin's end stops, as everywhere."""
    back = StepCard(18, "rollback-stop-new", "Stop the new release", Phase.ROLLBACK,
                    "Stops it.", skippable=False)
    headless, shown = front("r\nn\nq\n", CUTOVER, back, piped=piped)
    headless.tell(CutoverStarted("delete-nodegroups", time.time()))
    assert confirm(headless, CUTOVER.id, way_back_open=True) == Decision(Answer.STOP), \
        shown.getvalue()
    said = shown.getvalue()
    assert "18. Stop the new release" in said and "does not return to the upgrade" in said, said
    assert said.count(f"type {CUTOVER.id} to run it") == 2, said  # asked again after n
    headless, shown = front("r\n", CUTOVER, back, piped=piped)
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                          can_roll_back=True))
    assert chosen is Recovery.STOP, shown.getvalue()
    headless, shown = front("r\ny\n", CUTOVER, back, piped=piped)
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                          can_roll_back=True))
    assert chosen is Recovery.ROLLBACK, shown.getvalue()


def test_the_way_back_offered_does_not_promise_a_question_per_step() -> None:
    """Re-trial 53 (L6): the way back's steps were said to be "asked one at a
    time", and those whose checks found nothing to do passed unasked."""
    back = StepCard(18, "rollback-stop-new", "Stop the new release", Phase.ROLLBACK,
                    "Stops it.", skippable=False)
    headless, shown = front("r\ny\n", CUTOVER, back)
    asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"), can_roll_back=True))
    said = " ".join(shown.getvalue().split())
    assert "one at a time" not in said, said
    assert "each step that has work to do is asked before it runs" in said, said
    assert "already done" in said, said


def test_closed_input_is_said_not_only_acted_on() -> None:
    """Operator trial: with stdin closed the prompt was followed on its own
    line by the summary, exit 3, and nothing said why the run stopped."""
    headless, shown = front("", CUTOVER)
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, detail="boom"),
                                          can_roll_back=True))
    assert chosen is Recovery.STOP
    after = shown.getvalue().split("[q] stop: ", 1)[1]
    assert after.startswith("\n") and "no more input" in after, shown.getvalue()


# --- the downtime, said as it is --------------------------------------------------

START = StepCard(16, "start-service", "Start the service", Phase.CUTOVER, "Starts it.",
                 skippable=False)
BACK = StepCard(18, "rollback-stop-new", "Stop the new release", Phase.ROLLBACK, "Stops it.",
                skippable=False)


def test_the_cutover_banner_gives_the_estimate_and_each_step_the_time_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: headless never said what the TUI says, the last
    comparable cutover's time and what is left of it; and (review) the way
    back's steps are not timed against an upgrade's cutover."""
    from runbook import headless as module
    from runbook.events import CutoverStarted

    now = [1000.0]
    monkeypatch.setattr(module.time, "time", lambda: now[0])
    headless, shown = front("", CUTOVER, START, BACK, assume_yes=True,
                            estimate=(5.2, Path("/runs/last.jsonl")))
    confirm(headless, "delete-nodegroups")
    banner = shown.getvalue()
    assert "the last comparable cutover took 5.2s (journal /runs/last.jsonl)" in banner, banner
    # The engine's moment, not the one headless heard of it in (a second on).
    headless.tell(CutoverStarted("delete-nodegroups", now[0] - 1.0))
    now[0] = 1002.0
    confirm(headless, "start-service")
    started = shown.getvalue()[len(banner):]
    assert "down 3.0s" in started and "about 2.2s left" in started, started
    now[0] = 1064.0
    before = shown.getvalue()
    confirm(headless, "rollback-stop-new")
    back = shown.getvalue()[len(before):]
    assert "down 1m05s" in back, back
    assert "over" not in back and "left" not in back and "5.2s" not in back, back


async def test_a_headless_resume_mid_cutover_says_the_stream_manager_is_down(
        tmp_path: Path) -> None:
    """Operator trial: resumed after a SIGHUP that followed stop-service, headless
    said "PREPARE (the live system keeps running)", then "CUTOVER (downtime
    starts with the first step you run)", with no word of the downtime, and
    preflight's line claimed an API version from an API that did not answer."""
    from runbook.journal import Journal
    from runbook.journal_replay import replay
    from tests.scripted import ScriptedFrontEnd

    journal = tmp_path / "runs" / "run.jsonl"
    journal.parent.mkdir()
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        # An earlier rehearsal at this pace, its cutover timed: the estimate.
        last = Journal(journal.parent / "last.jsonl")
        last.write("run-start", config="rehearsal.toml", host="x", rehearsal=True,
                   pace=settings.pace, scenario=settings.rehearsal_scenario, steps=[],
                   resumed=False)
        last.write("cutover-end", complete=True, downtime_s=5.2)
        last.write("run-end", outcome="done", exit_code=0)
        last.close()
        os.utime(last.path, (1.0e9, 1.0e9))
        first = ScriptedFrontEnd({"service-unit": Decision(Answer.STOP)})
        first_run = rehearsal_session(host, journal, settings)
        assert await first_run.run(first) is Outcome.STOPPED
        assert host.service_pid() is None  # stop-service ran: the stream manager is down
        shown = io.StringIO()
        run = rehearsal_session(host, journal, settings, resume=replay(journal))
        outcome = await run.run(HeadlessFrontEnd(
            run.cards, out=shown, stdin=io.StringIO("y\ny\nq\n"),
            estimate=run.downtime_estimate()))
    text = shown.getvalue()
    assert outcome is Outcome.STOPPED, text[-3000:]
    first_banner = text.index("=== ")
    assert "the stream manager has been down since" in text[:first_banner], text[:2000]
    banners = [line for line in text.splitlines() if line.startswith("=== ")]
    assert len(banners) == 3 and banners[2] == "=== summary ===", banners
    assert "keeps running" not in banners[0], banners
    assert "downtime starts" not in banners[1], banners
    assert "the last comparable cutover took 5.2s" in text, text[-2000:]
    # Preflight says what it found, not what the earlier run did.
    # (Mid-cutover its versions are the old one kept for the way back, and the new.)
    done = [line for line in text.splitlines()
            if line.startswith("  [done") and "] old " in line]
    assert done and "API 3.1" not in done[0] and "does not answer" in done[0], done


async def test_a_skipped_prepare_step_looked_at_mid_cutover_brings_no_phase_back(
        tmp_path: Path) -> None:
    """Operator trial: resumed mid-cutover with properties skipped, headless
    printed the cutover steps done in the earlier run, then "=== PREPARE" and
    "=== CUTOVER" again around the warning of the skipped step: the phases
    read as if the run had gone back to prepare."""
    from runbook.journal_replay import replay
    from tests.scripted import ScriptedFrontEnd

    journal = tmp_path / "runs" / "run.jsonl"
    journal.parent.mkdir()
    async with rehearsal_host(tmp_path) as host:
        # carry-over: a skipped properties on the template as shipped keeps
        # the cutover from beginning at all (trial 53).
        first = ScriptedFrontEnd({"carry-over": Decision(Answer.SKIP, "by hand"),
                                  "stop-service": Decision(Answer.STOP)})
        assert await rehearsal_session(host, journal).run(first) is Outcome.STOPPED
        shown = io.StringIO()
        run = rehearsal_session(host, journal, resume=replay(journal))
        # preflight and new-database look again; properties, skipped before
        # the cutover began, is not asked about again; stop at stop-service.
        outcome = await run.run(HeadlessFrontEnd(
            run.cards, out=shown, stdin=io.StringIO("y\ny\nq\n")))
    text = shown.getvalue()
    assert outcome is Outcome.STOPPED, text[-3000:]
    lines = text.splitlines()
    banners = [line.split(" (")[0] for line in lines if line.startswith("=== ")]
    assert banners == ["=== PREPARE", "=== CUTOVER", "=== summary ==="], banners
    # The warning stands once, under properties in its own turn, before the
    # cutover's steps and the question of the next.
    warned = [n for n, line in enumerate(lines) if "warning: carry-over was skipped" in line]
    assert len(warned) == 1, text[-3000:]
    heading = max(n for n, line in enumerate(lines[:warned[0]]) if line.startswith("["))
    assert lines[heading].startswith("[carry-over] "), lines[heading]
    cutover = next(n for n, line in enumerate(lines) if line.startswith("=== CUTOVER"))
    assert warned[0] < cutover, text[-3000:]
    assert any(line.startswith("[stop-service] ") for line in lines[warned[0]:]), text[-3000:]


def test_a_headless_rehearsal_resumed_mid_cutover_says_why_its_service_is_down(
        tmp_path: Path) -> None:
    """Operator trial: resumed after stop-service, `runbook rehearse --headless
    --resume` first printed, alone, "systemctl start red5pro failed at boot:
    Job for red5pro.service failed ...", and no word that the stream manager
    had been down all along."""
    sandbox = tmp_path / "sandbox"
    cutover = "delete-nodegroups\nbackup-live\npromote-new\nstop-service\nq\n"
    first = runbook("rehearse", "--headless", "--sandbox", str(sandbox),
                    stdin=PREPARE_ANSWERS + cutover)
    assert first.returncode == 3, first.stdout[-3000:] + first.stderr
    again = runbook("rehearse", "--headless", "--resume", "--sandbox", str(sandbox),
                    stdin="q\n")
    said = again.stdout + again.stderr
    assert again.returncode == 3, said[-3000:]
    lines = said.splitlines()
    # Said once, by the rehearsal, with what it means; not a bare log line.
    # (The host no longer tries to boot it: a service down mid-cutover stays
    # down, as on a real host that nobody rebooted.)
    kept = [line for line in lines if "Red5 Pro service" in line]
    assert len(kept) == 1 and "mid-cutover" in kept[0] and "stays down" in kept[0], kept
    assert not any("at boot" in line or line.startswith("systemctl") for line in lines), said
    assert any(line.startswith("the stream manager has been down since") for line in lines), \
        said[:3000]


def test_a_wait_prints_no_share_that_reads_as_progress() -> None:
    """Operator trial: "163s left 10%" read as a wait one tenth done."""
    headless, shown = front("", CUTOVER)
    headless.tell(Progress("delete-nodegroups", 17, 180,
                           "waiting for 2 of 2 nodegroups to be gone: 163s left", of_limit=True))
    headless.tell(Progress("delete-nodegroups", 90, 180, "copying"))
    lines = [line for line in shown.getvalue().splitlines() if line.startswith("  ~ ")]
    assert lines[0].endswith("163s left") and "%" not in lines[0], lines


def test_the_summary_of_a_resumed_run_says_what_the_earlier_run_finished() -> None:
    """Operator trial: a resumed run stopped early listed the cutover steps
    the earlier run had done as "not reached", beside "16 of 17 steps done":
    at 2 a.m. it read as if nothing had been torn down."""
    from runbook.journal_replay import Replay, StepHistory

    earlier = Replay(steps={"upload": StepHistory(StepState.DONE, "ok"),
                            "delete-nodegroups": StepHistory(StepState.IN_DOUBT, "cut off"),
                            "unpack": StepHistory(StepState.SKIPPED, skip_reason="by hand")})
    shown = io.StringIO()
    headless = HeadlessFrontEnd([UPLOAD, UNPACK, CUTOVER], out=shown, stdin=io.StringIO(""),
                                earlier=earlier)
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "done in the earlier run")))
    headless.tell(RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}
    assert rows == {"upload": "done", "unpack": "skipped in the earlier run",
                    "delete-nodegroups": "IN DOUBT in the earlier run"}, summary


def test_the_summary_of_a_rolled_back_run_says_the_way_back_undid_the_cutover() -> None:
    """Operator trial (stop 39): after the way back, the summary listed each
    cutover step as done, where the screen said undone."""
    from runbook.journal_replay import Replay, StepHistory

    later = StepCard(12, "backup-live", "Rename red5pro", Phase.CUTOVER, "Moves it.",
                     skippable=False)
    # TUI trial: a step left in doubt and gone back from read "IN DOUBT",
    # as if to be tried again on a host the way back had put back.
    doubt = StepCard(14, "stop-service", "Kill it", Phase.CUTOVER, "Kills it.",
                     skippable=False)
    back = StepCard(18, "rollback-restore", "Put it back", Phase.ROLLBACK, "Moves it back.")
    # Operator trial (stop 51): recreate read "undone" beside the word that
    # what it made stays in the new database.
    kept = StepCard(17, "recreate", "Recreate", Phase.CUTOVER, "Recreates.", skippable=False,
                    the_way_back_undoes=False)
    earlier = Replay(steps={"delete-nodegroups": StepHistory(StepState.DONE, "ok")})
    shown = io.StringIO()
    headless = HeadlessFrontEnd([UPLOAD, CUTOVER, later, doubt, kept, back], out=shown,
                                stdin=io.StringIO(""), earlier=earlier)
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport("backup-live", StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport("stop-service", StepState.IN_DOUBT, "not known", 1.0)))
    headless.tell(StepChanged(StepReport("recreate", StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport("rollback-restore", StepState.DONE, "ok", 1.0)))
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}
    assert rows == {"upload": "done",
                    "delete-nodegroups": "done in the earlier run, then undone by the way back",
                    "backup-live": "done, then undone by the way back",
                    "stop-service": "IN DOUBT, then undone by the way back",
                    "recreate": "done, partly undone by the way back",
                    "rollback-restore": "done"}, summary


def test_the_summary_of_a_rolled_back_run_says_the_nodegroups_were_recreated() -> None:
    """Operator trial: after the way back, delete-nodegroups read "undone";
    the way back's rollback-recreate makes new nodegroups (new generated
    names, only their origins launched), it does not undo the delete."""
    from steps.cutover import BackupLive, DeleteNodegroups

    delete, backup = DeleteNodegroups().card(11), BackupLive().card(12)
    headless, shown = front("", delete, backup)
    headless.tell(StepChanged(StepReport(delete.id, StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport(backup.id, StepState.DONE, "ok", 1.0)))
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
    rows = _summary_rows(shown)
    assert rows["backup-live"] == "done, then undone by the way back", rows
    said = rows["delete-nodegroups"]
    assert said.startswith("done, then recreated by the way back as new nodegroups"), rows
    assert "undone" not in said, rows


def test_the_summary_says_already_done_of_a_step_that_found_nothing_to_do() -> None:
    """Operator trial: way-back steps that found their outcome in place said
    "already done" as they ran, and plain "done" in the summary, as if they
    had acted on the host. Review 56b, F6: told by the report's found_done,
    not by the words its result starts with."""
    back = StepCard(18, "rollback-stop-new", "Stop it", Phase.ROLLBACK, "Stops it.")
    unit = StepCard(21, "rollback-unit", "Put the unit back", Phase.ROLLBACK, "Puts it back.")
    headless, shown = front("", CUTOVER, back, unit)
    headless.tell(StepChanged(StepReport(CUTOVER.id, StepState.DONE,
                                         "already done: no nodegroups left", found_done=True)))
    headless.tell(StepChanged(StepReport(back.id, StepState.DONE,
                                         "nothing runs from the new install", found_done=True)))
    headless.tell(StepChanged(StepReport(unit.id, StepState.DONE, "the old unit is back", 0.5)))
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
    assert _summary_rows(shown) == {
        "delete-nodegroups": "already done, then undone by the way back",
        "rollback-stop-new": "already done",
        "rollback-unit": "done"}, shown.getvalue()


def test_a_failure_just_printed_is_not_printed_again_at_its_question() -> None:
    """Operator trial (stop 48): every failure's message, often 500
    characters, was printed twice: on its [FAILED] line and again on the
    question's "did not end well" line right under it."""
    headless, shown = front("q\n", CUTOVER)
    said = "the API answered HTTP 500 " + "x" * 200
    headless.tell(StepChanged(StepReport(CUTOVER.id, StepState.FAILED, said, 1.0)))
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, StepState.FAILED, said),
                                          can_roll_back=False))
    assert chosen is Recovery.STOP
    assert shown.getvalue().count(said) == 1, shown.getvalue()
    assert "did not end well (as said above)" in shown.getvalue(), shown.getvalue()


def test_the_summary_says_not_run_of_a_step_asked_or_left_by_the_way_back() -> None:
    """Operator trial (stop 48): a step whose question was answered stop (or
    refused, from a pipe) read "not reached", as did the cutover steps the way
    back left, which the README and the TUI call "not run"."""
    later = StepCard(12, "backup-live", "Rename red5pro", Phase.CUTOVER, "Moves it.",
                     skippable=False)
    back = StepCard(18, "rollback-restore", "Put it back", Phase.ROLLBACK, "Moves it back.")
    headless, shown = front("q\n", UPLOAD, CUTOVER)
    assert confirm(headless, "upload") == Decision(Answer.STOP)
    headless.tell(RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
    rows = _summary_rows(shown)
    assert rows == {"upload": "not run: stopped at its question",
                    "delete-nodegroups": "not reached"}, rows
    shown = io.StringIO()
    headless = HeadlessFrontEnd([CUTOVER, later, back], out=shown, stdin=io.StringIO(""))
    headless.tell(StepChanged(StepReport(CUTOVER.id, StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport("rollback-restore", StepState.DONE, "ok", 1.0)))
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
    assert _summary_rows(shown)["backup-live"] == "not run", shown.getvalue()


def _summary_rows(shown: io.StringIO) -> dict[str, str]:
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}


def test_the_summary_of_a_run_cut_off_names_the_step_cut_off_and_those_never_reached() -> None:
    """Operator trial: after SIGTERM the summary still said the step that was
    running was "running", and left out the steps never reached."""
    headless, shown = front("", UPLOAD, UNPACK, CUTOVER)
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport("unpack", StepState.RUNNING)))
    headless.tell(RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}
    assert rows == {"upload": "done", "unpack": "cut off while running (in doubt)",
                    "delete-nodegroups": "not reached"}, summary


def test_a_host_s_control_characters_are_printed_as_escapes() -> None:
    """A remote line holding ESC [2J cleared the operator's terminal mid-run,
    and an 8-bit CSI (U+009B) or OSC 52 would act on it too; tabs stay."""
    import re

    from runbook.events import Output

    headless, shown = front("", UNPACK, assume_yes=True)
    headless.tell(Output("unpack", "err", "inflating: \x1b[2J \x9b31m \x1b]52;c;aGk=\x07\tdone"))
    text = shown.getvalue()
    assert "inflating:" in text and "\tdone" in text, text
    raw = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    assert not raw.search(text), [m.group() for m in raw.finditer(text)]



def test_a_refused_host_keys_known_hosts_line_is_printed_alone() -> None:
    """Re-trial (the TUI wrapped it at 80 columns): the known_hosts line a
    refused host key says to add is a line of the output with nothing else
    on it, to be copied whole. Already so here; kept so."""
    from tests.test_tui_records import KEY_LINE, REFUSED

    headless, shown = front("q\n", CUTOVER)
    headless.tell(StepChanged(StepReport(CUTOVER.id, StepState.FAILED, REFUSED, 0.1)))
    chosen = asyncio.run(headless.recover(StepReport(CUTOVER.id, StepState.FAILED, REFUSED),
                                          can_roll_back=False))
    assert chosen is Recovery.STOP
    assert KEY_LINE in shown.getvalue().splitlines(), shown.getvalue()


def test_the_summary_marks_a_step_that_warned() -> None:
    """Re-trial (stop 53): the way back's first step, unable to delete the
    new nodegroups, warned that their nodes were left running, and the
    summary read "rollback-nodegroups  done", where the TUI's row shows ⚠."""
    from runbook.events import Output

    back = StepCard(18, "rollback-nodegroups", "Delete them", Phase.ROLLBACK, "Deletes.")
    shown = io.StringIO()
    headless = HeadlessFrontEnd([UPLOAD, back], out=shown, stdin=io.StringIO(""))
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "ok", 1.0)))
    headless.tell(Output("rollback-nodegroups", "info", "warning: the nodes are left running",
                         warning=True))
    headless.tell(StepChanged(StepReport("rollback-nodegroups", StepState.DONE, "nothing", 1.0)))
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in summary if line.startswith("  ")}
    assert rows["upload"] == "done", rows
    assert rows["rollback-nodegroups"] == "done, with a warning (above, and in the report)", rows


def test_the_summary_of_a_way_back_stopped_part_way_lists_the_steps_not_reached() -> None:
    """Re-trial 53: `--rollback-after recreate`, q at rollback-set-aside: the
    summary ended at the question's step; the way back's steps after it were
    not listed, where the report reads them "not reached"."""
    from runbook.events import WayBackStarted

    stop_new = StepCard(20, "rollback-stop-new", "Stop it", Phase.ROLLBACK, "Stops it.")
    set_aside = StepCard(21, "rollback-set-aside", "Set it aside", Phase.ROLLBACK, "Moves it.")
    restore = StepCard(22, "rollback-restore", "Put it back", Phase.ROLLBACK, "Moves it back.")
    unit = StepCard(23, "rollback-unit", "Put the unit back", Phase.ROLLBACK, "Puts it back.")
    headless, shown = front("q\n", UPLOAD, CUTOVER, stop_new, set_aside, restore, unit)
    headless.tell(StepChanged(StepReport("upload", StepState.DONE, "ok", 1.0)))
    headless.tell(StepChanged(StepReport(CUTOVER.id, StepState.DONE, "ok", 1.0)))
    headless.tell(WayBackStarted(steps=(stop_new.id, set_aside.id, restore.id, unit.id)))
    headless.tell(StepChanged(StepReport(stop_new.id, StepState.DONE, "ok", 1.0)))
    assert confirm(headless, set_aside.id) == Decision(Answer.STOP)
    headless.tell(RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
    summary = shown.getvalue().split("=== summary ===")[1].splitlines()
    rows = [line.split(None, 1) for line in summary if line.startswith("  ")]
    assert rows == [["upload", "done"], ["delete-nodegroups", "done"],
                    ["rollback-stop-new", "done"],
                    ["rollback-set-aside", "not run: stopped at its question"],
                    ["rollback-restore", "not reached"],
                    ["rollback-unit", "not reached"]], summary


@pytest.mark.parametrize(("not_undone", "said"), [
    (("recreate",),
     "done, not undone by the way back, which could not delete its nodegroups (see the warning)"),
    ((), "done, partly undone by the way back"),
])
def test_the_summary_says_the_way_back_undid_none_of_a_step_it_could_not_touch(
        not_undone: tuple[str, ...], said: str) -> None:
    """Operator trial 54 (F9): with the new API failing, the way back deleted
    none of recreate's nodegroups (its warning said so), and the summary read
    "recreate  done, partly undone by the way back". Review 56b, F6: which
    steps, the run's end says (RunEnded.not_undone), as the report reads it
    from the journal: not every step with something left, by the words of
    what they leave."""
    recreate = StepCard(17, "recreate", "Recreate", Phase.CUTOVER, "Recreates.",
                        the_way_back_undoes=False)
    other = StepCard(18, "other", "Other", Phase.CUTOVER, "Leaves rows.",
                     the_way_back_undoes=False)
    shown = io.StringIO()
    headless = HeadlessFrontEnd([recreate, other], out=shown, stdin=io.StringIO(""))
    headless.tell(StepChanged(StepReport("recreate", StepState.DONE, "rebuilt", 1.0)))
    headless.tell(StepChanged(StepReport("other", StepState.DONE, "made rows", 1.0)))
    left = {"recreate": Leaves("group-a, with the launch configs and scale policies recreate "
                               "made, stay in the new database after the way back", "drop it"),
            "other": Leaves("other's rows stay", "drop them")}
    headless.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code,
                           before_another_attempt=left, not_undone=not_undone))
    rows = _summary_rows(shown)
    assert rows["recreate"] == said, shown.getvalue()
    assert rows["other"] == "done, partly undone by the way back", shown.getvalue()


def test_a_blank_live_value_over_a_placeholder_is_not_called_a_new_default() -> None:
    """Review 58c: headless listed a live blank serverapi.accessToken under the
    6.2 template's placeholder as "1 new default nobody has confirmed yet",
    where --check and the editor say the template asks for a value."""
    import asyncio

    from runbook.properties import review

    result = review("serverapi.accessToken=\n",
                    "serverapi.accessToken={node api security token}\n")
    headless, shown = front("", assume_yes=True)
    assert asyncio.run(headless.review("properties", result, decisions_path=None))
    said = shown.getvalue()
    assert "new default" not in said and "blank in the live file" in said, said


def test_a_throwaway_rehearsals_way_back_does_not_promise_a_resume(tmp_path: Path) -> None:
    """Review K2 (T): taking the way back after a fault said "--resume goes on
    with the way back", where a rehearsal without --sandbox or --keep removes
    its host as it ends: there is nothing to resume. A real throwaway
    rehearsal, start-service failing on its fault, answered r then y."""
    cutover = "".join(f"{step}\n" for step in (
        "delete-nodegroups", "backup-live", "promote-new", "stop-service", "service-unit",
        "start-service"))
    result = runbook("rehearse", "--headless", "--fault", "start-fails",
                     "--dist-size", "100000", stdin=PREPARE_ANSWERS + cutover + "r\ny\nq\n")
    said = " ".join(result.stdout.split())
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr
    assert "once taken it stands: this run does not return to the upgrade" in said, \
        result.stdout[-3000:]
    assert "--resume" not in said, result.stdout[-3000:]
    assert "rehearse again" in said, result.stdout[-3000:]
