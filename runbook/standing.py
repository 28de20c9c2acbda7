"""Where a run left the stream manager, said from its journal.

Every way out of a run (done, failed, stopped, a closed terminal) ends with
these lines, so the operator who comes back, or the one who takes over,
reads the service state and the command that goes on from there, not only
an outcome word. Pure: the journal in, the sentences out.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from runbook.claim import TAKEN_OVER
from runbook.journal import text_of
from runbook.model import LEFT_RUNNING, WAY_BACK_LEFT_RUNNING, Leaves, StepState, duration

if TYPE_CHECKING:  # a replay to read comes with its module (issue 12: not before the paint)
    from runbook.journal_replay import Replay

_FINISHED = (StepState.DONE, StepState.SKIPPED)

# What runbook's way back is for, and what stays after a finished upgrade: the
# refusal of `runbook rollback` and the report's "After the upgrade" say it
# (operator trial 54: the report called bak.red5pro "the way back", which
# rollback then refused). A stream manager started on a database tears down
# the nodes that are not in it (FACTS §0), so the old one, started again on
# the old database, would tear down the new nodegroups' nodes.
ONLY_UNDER_WAY = "the way back runbook runs only undoes a cutover still under way"
AFTER_A_FINISHED_UPGRADE = (
    "after a finished upgrade, the old install (bak.red5pro) and the old database are what "
    "a return to the old release by hand would use; before the old stream manager starts "
    "again on the old database, delete the new nodegroups through the new stream manager's "
    "API, as the old stream manager, started on the old database, tears down the nodes it "
    "does not know")


def local_time(iso: str) -> str:
    """The local wall-clock time of a journal timestamp (with the date when
    it is not today): what the operator's watch says."""
    when = datetime.fromisoformat(iso).astimezone()
    today = datetime.now().astimezone().date()
    return when.strftime("%H:%M:%S" if when.date() == today else "%Y-%m-%d %H:%M:%S")


def said_time(iso: str) -> str:
    """`local_time`, or the moment as recorded when it cannot be read (a
    damaged journal or record): said, not a reason to fail."""
    try:
        return local_time(iso)
    except ValueError:
        return iso


# A journal that ends within this of its cutover's start says nothing of how
# long the stream manager stayed down after.
ENDS_AS_BEGUN_S = 1.0


def taken_from(history: Replay) -> str | None:
    """Whose claim on the host the run took (--take-over-host, or a run
    gone), as its journal says; None where it took none."""
    took = next((note for note in history.notes if note.get("kind") == TAKEN_OVER), None)
    return None if took is None else text_of(took.get("whose")) or "another run"


def took_over(whose: str) -> str:
    """What a run that took another's claim knows of the host: not what
    serves. That run may have changed it in ways preflight does not look at
    (nodegroups deleted)."""
    return (f"it took the host over from {whose}, whose run may have changed it: look at "
            "the host before going on")


def service_state(history: Replay, *, as_of: str | None = None) -> str:
    """One sentence: what serves now, and since when it is down if it is;
    with `as_of` (the journal's last record, for a report read later) what
    serves as the journal ends, and how long it was down by then (operator
    trial: a report said "so far" of a host long gone, growing each time)."""
    ids = history.step_ids or list(history.steps)
    done = sum(1 for step in ids if history.state(step) in _FINISHED)
    count = f"{done} of {len(ids)} steps done or skipped"
    if history.way_back_ended():
        said = f"rolled back: the old stream manager serves again ({count} before the way back)"
        if history.outcome is None:
            said += ("; the run's own end is not on record (its last record was cut off), "
                     "but every step of the way back is done and the cutover's end is")
        return said
    if history.outcome is None and history.way_back_taken and history.downtime_s is not None:
        # The cutover's end on record after the way back began, but not every
        # step of it done: what serves is not known from the journal.
        return (f"not known: the journal records the cutover's end after the way back "
                f"began, but not every step of the way back as done; look at the host "
                f"({count} before the way back)")
    if history.downtime_s is not None:
        return (f"the new stream manager serves; the downtime was "
                f"{duration(history.downtime_s)} ({count})")
    if history.cutover_started is not None:
        began = history.cutover_started
        until, then = datetime.now(), "so far"
        with contextlib.suppress(TypeError, ValueError):  # a damaged time: as of now
            until, then = datetime.fromisoformat(as_of or ""), "by the journal's last record"
        down_for = (until.astimezone() - datetime.fromisoformat(began).astimezone()
                    ).total_seconds()
        down = (f"the stream manager is down since {local_time(began)} "
                f"({duration(down_for)} {then})")
        if as_of is not None and down_for < ENDS_AS_BEGUN_S and history.outcome is None:
            # Cut off in its first wait, whose progress is not journalled: a
            # bare 0.0s read as no downtime on a change ticket (operator trial).
            # A run that ended in order (a signal, a stop) has its end on record.
            down = (f"the stream manager is down since {local_time(began)} (for how long is "
                    "not on record: the journal ends as the cutover began)")
        if history.way_back_taken:
            # Part way back, the host is neither release as it was (operator
            # trial: no red5pro at all after rollback-set-aside).
            finished = [step for step in history.way_back if history.state(step) in _FINISHED]
            # Where the last of them left things (trial: red5pro gone, the new
            # release set aside, and the report did not say where).
            last = finished[-1] if finished else None
            left = f", the last {last}: {history.steps[last].detail}" \
                if last and history.steps[last].detail else ""
            # One begun after it and never ended may have changed the host
            # since (second review: cut off in rollback-restore's mv).
            doubt = [step for step in history.way_back
                     if history.state(step) in (StepState.RUNNING, StepState.IN_DOUBT)]
            left += f", then {doubt[-1]} in doubt" if doubt else ""
            # What its own start left running (trial 61, F1: the old release
            # started and refusing the token read as not started yet).
            runs = text_of(history.facts.get(WAY_BACK_LEFT_RUNNING))
            left += f"; {runs}" if runs else ""
            return (f"{down}, on the way back to the old one: {len(finished)} of its steps "
                    f"done{left} ({count} before the way back)")
        # What a failed step left running (start-service: the new release
        # up without serving), as its facts last said (trial 58 L6).
        left = text_of(history.facts.get(LEFT_RUNNING))
        return f"{down}, {count}" + (f"; {left}" if left else "")
    whose = taken_from(history)
    if whose is not None:
        return f"this run began no cutover; {took_over(whose)} ({count})"
    if history.state("preflight") not in _FINISHED:
        # Nothing was looked at, or what was found was not a live install
        # (operator trial: its folder moved aside by a cutover this run knew
        # nothing of): what serves is not this run's to say.
        if not done:
            return f"this run began no cutover and changed nothing on the host ({count})"
        return (f"the cutover has not begun, and preflight did not pass: what serves now "
                f"was not looked at ({count})")
    return f"the cutover has not begun: the live stream manager serves as before ({count})"


def before_another_attempt(outcome: str | None, left: Iterable[Leaves]) -> str:
    """What to see to before upgrading again after a run that ended with
    `outcome`: empty unless it went back, and then what its begun steps
    `left` that the way back does not undo (nothing, when it went back before
    any such step: operator trial, told to drop a database nothing was
    written to)."""
    return "; ".join(said.sentence for said in left) if outcome == "rolled-back" else ""


def going_on(history: Replay, *, resume: str | None, rollback: str | None,
             rollback_note: str = "", both: str = "") -> list[str]:
    """The commands that go on from here: resume, and the way back while the
    cutover is under way. None where the run cannot be continued. Each line
    ends with its command alone, to be pasted into a shell; what to know of
    the way back (`rollback_note`) or of both (`both`) goes before the colon,
    where a report's row splits, and so without one."""
    if history.ended_as is not None:
        return []
    under_way = history.cutover_started is not None and history.downtime_s is None
    aside = f" ({both})" if both else ""
    if under_way and history.way_back_taken:
        # A resumed run goes on back from there (runbook.executor), and so
        # does the way back alone.
        return [f"to go on back to the old stream manager{aside}: {resume or rollback}"] \
            if resume or rollback else []
    lines = [f"to go on{aside}: {resume}"] if resume else []
    if under_way and rollback:
        notes = "; ".join(note for note in (both, rollback_note) if note)
        said = f" ({notes})" if notes else ""
        lines.append(f"to go back to the old stream manager instead{said}: {rollback}")
    return lines


class WayBack(NamedTuple):
    """A command that goes back, and what to know of it, said beside it: never
    in it, as it is pasted into a shell (trial: a note in brackets there was a
    syntax error)."""
    command: str
    note: str = ""


def rehearsed_way_back(history: Replay, resume: str, cutover: Sequence[str],
                       way_back: Iterable[str]) -> WayBack | None:
    """A lasting rehearsal's way back from where its cutover stands: resumed
    (`resume`), going back after the last of the `cutover` steps it finished,
    as `runbook rollback` would from there. With none finished it can only go
    back after the first, which then runs again: said. None once its way
    back (`way_back`, its steps' ids) began: resumed, it goes on back by
    itself. The exit lines' rule and the report's."""
    if not cutover or history.way_back_chosen(way_back):
        return None
    finished = [step for step in cutover if history.state(step) in _FINISHED]
    if finished:
        return WayBack(f"{resume} --rollback-after {finished[-1]}")
    return WayBack(f"{resume} --rollback-after {cutover[0]}",
                   f"it runs {cutover[0]} again first, as no cutover step finished")


def rehearse_command(sandbox: Path | str, journal: Path | str, *, headless: bool = False) -> str:
    """A lasting rehearsal's run continued: `runbook rehearse --resume` in its
    sandbox, absolute (as spelt) to work from any folder."""
    return (f"runbook rehearse --sandbox {shlex.quote(os.path.abspath(sandbox))} "
            f"--resume --journal {shlex.quote(os.path.abspath(journal))}"
            + (" --headless" if headless else ""))


def rehearse_anew_command(sandbox: Path | str, *, headless: bool = False) -> str:
    """A new rehearsal in a lasting sandbox beside an unfinished one it leaves
    as it is."""
    return (f"runbook rehearse --sandbox {shlex.quote(os.path.abspath(sandbox))} --new-run"
            + (" --headless" if headless else ""))


def resume_command(config: str, journal: Path | str, *, headless: bool = False,
                   as_given: bool = False) -> str:
    """The run in `journal` continued from outside: `runbook run --resume`,
    quoted for a shell and absolute (as spelt) to work from any folder; with
    `as_given` the config as it was given, resolved nowhere (an older
    journal's relative path, whose folder is not on record)."""
    return (f"runbook run {_config_path(config, as_given)} --resume --journal "
            f"{shlex.quote(os.path.abspath(journal))}" + (" --headless" if headless else ""))


def new_run_command(config: str, *, headless: bool = False) -> str:
    """A new run of `config` on purpose, beside an unfinished one it leaves as
    it is: `runbook run --new-run`, absolute as resume_command's."""
    return (f"runbook run {_config_path(config, False)} --new-run"
            + (" --headless" if headless else ""))


def rollback_command(config: str, journal: Path, *, headless: bool = False,
                     as_given: bool = False) -> str:
    """The way back from outside a run: `runbook rollback` on the cutover's
    own journal, quoted for a shell; absolute (as spelt, not through its
    links) to work from any folder. `headless` as the run was (operator
    trial: pasted without it into a script, the TUI hung there)."""
    return (f"runbook rollback {_config_path(config, as_given)} "
            f"--journal {shlex.quote(os.path.abspath(journal))}"
            + (" --headless" if headless else ""))


def _config_path(config: str, as_given: bool) -> str:
    """A config's path for a command: absolute, or as given (`as_given`)."""
    return shlex.quote(config if as_given else os.path.abspath(config))
