"""Formatting the run report's renderers (report_md, report_html) share.

Times in UTC as the journal has them, durations as the exit lines write them,
an action's status, and what of an action's text a report shows.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from decimal import Decimal

from runbook.journal_replay import same_pace
from runbook.model import (
    PROPERTIES_STEP,
    REAL_PACE,
    after_the_way_back_said,
    outcome_words,
    result_line,
    state_words,
)
from runbook.model import duration as model_duration
from runbook.rehearsal.cloud import FAST_PACE
from runbook.report import (
    BAD_ENDS,
    Action,
    Attempt,
    Downtime,
    Note,
    Report,
    StepRun,
    clock,
    moment,
)
from runbook.standing import ENDS_AS_BEGUN_S


def stamp(ts: str | None) -> str:
    """2026-11-30 13:59:01 UTC."""
    when = moment(ts)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "-"


def said_again(note: Note, day: str | None) -> str:
    """ (said again at 21:03:10, 22:40:02): a note repeated by later sessions."""
    return f" (said again at {', '.join(clock(ts, day) for ts in note.again)})" \
        if note.again else ""


def duration(seconds: float | None) -> str:
    """4.2s, 1m59s, 1h02m: runbook.model.duration, as the exit lines, the
    headless run and the TUI's rows write them (re-trial 57b, F-H: "1 min 09 s"
    here read as another figure than the exit's "1m09s")."""
    return "-" if seconds is None else model_duration(seconds)


def between(start: str | None, end: str | None) -> float | None:
    first, last = moment(start), moment(end)
    return (last - first).total_seconds() if first and last else None


_BODY = re.compile(r""" -d ('(?:[^']|'"'"')*')$""")


def shown(step: StepRun, action: Action) -> list[str]:
    """An action's text as the report shows it: whole, but for two things.

    A launch config's body holds cloud settings: its POST shows the name and
    size only (the journal, the operator's alone, keeps it). The properties
    edit's key-by-key review has a section of its own."""
    lines = action.text.split("\n")
    if action.kind == "apicall" and "/configurations/launchconfig" in lines[0]:
        found = _BODY.search(lines[0])
        if found:
            try:
                body = shlex.split(found.group(1))[0]
            except (ValueError, IndexError):
                body = found.group(1)
            try:
                name = str(json.loads(body)["launchconfig"]["name"]) or "launchconfig"
            except (ValueError, KeyError, TypeError):
                name = "launchconfig"
            size = len(body.encode())
            lines[0] = (f"{lines[0][:found.start()]} -d @{shlex.quote(name + '.json')}  "
                        f"# body not shown ({size} bytes): a launch config holds cloud "
                        "settings")
    if step.id == PROPERTIES_STEP and action.kind == "editfile" and len(lines) > 1:
        lines = [lines[0], "(the key-by-key review is under Properties decisions)"]
    return lines


def action_line(action: Action, day: str | None) -> str:
    """The comment above a command in the report: when it was asked and how it
    ended; where the connection was lost while it waited or ran, when it was
    back and when the command ended too (operator trial 56, F4)."""
    if action.connection_back is None:
        return f"# {clock(action.ts, day)} {action_status(action)}"
    ended = f"ended {clock(action.ended, day)} " if action.ended else ""
    return (f"# asked {clock(action.ts, day)}; the SSH connection was lost and back at "
            f"{clock(action.connection_back, day)}; {ended}{action_status(action)}")


def action_status(action: Action) -> str:
    if action.status is None:
        return "no end recorded (in doubt)"
    if action.exit is not None:
        return f"{action.status}, exit {action.exit}"
    return f"{action.status}: {action.error}" if action.error else action.status


def title(report: Report) -> str:
    outcome = outcome_words(report.outcome) if report.outcome else \
        "cut off (no run-end recorded)"
    kind = "rehearsal" if report.rehearsal else "upgrade"
    return f"Stream Manager {kind}: {report.host or 'unknown host'} - {outcome}"


def no_estimate(report: Report) -> str:
    """Why the downtime has nothing to set it against: only a run at the same
    pace counts, so it says which runs were looked for."""
    if report.pace is None:
        return ("No earlier run compares with this one: its pace is not on record, or "
                "changed when it was resumed.")
    if report.unattended is None:
        return ("No earlier run compares with this one: --yes answered only some of its "
                "steps.")
    if report.unattended:
        return ("No earlier run answered by --yes at this pace with a finished cutover was "
                "found to compare with.")
    if same_pace(report.pace, REAL_PACE):
        return ("No earlier run or real-pace rehearsal with a finished cutover was found to "
                "compare with.")
    return ("No earlier rehearsal at this pace with a finished cutover was found to compare "
            "with, among the throwaway rehearsals' journals and those beside this journal "
            "(one kept in a --sandbox of its own is in that sandbox's .operator/runs).")


def versions(old: str | None, new: str | None) -> str:
    return f"{old or '?'} → {new or '?'}" if old or new else "-"


# --- a step's attempts ------------------------------------------------------------------

# Under the steps table when a step took more than one attempt (operator trial:
# `started` and `ended` spanned three runs while `took` was the last one's).
TOOK_NOTE = ("A step tried more than once: started is its first attempt's start, ended its "
             "last one's end, and took adds up the attempts' running times (not the waits "
             "between them).")
# ...and when one was cut off with no end on record (killed, say).
CUT_OFF_NOTE = ("A step cut off has no end on record: it took at least the time from its "
                "start to the last record of its run.")


def took_note(report: Report) -> str:
    """What the steps table's took column needs said under it; "" if nothing."""
    said = [TOOK_NOTE] if any(step.attempts > 1 for step in report.steps) else []
    if any(at_least(t) is not None for step in report.steps for t in step.tries):
        said.append(CUT_OFF_NOTE)
    return " ".join(said)


def at_least(attempt: Attempt) -> float | None:
    """An attempt cut off ran at least from its start to its run's last
    record; None for one not cut off, and where that bounds nothing ("at
    least 0.0 s" would read as no time at all)."""
    if not attempt.cut_off:
        return None
    seen = between(attempt.started, attempt.seen_until)
    return seen if seen is not None and duration(seen) != duration(0) else None


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def history(step: StepRun) -> str:
    """How a step that failed (or was left in doubt) in some attempt came to
    its end: "failed once, then found done on resume"; "" when none did. A
    skip it came back from is said too, with its reason."""
    bad = step.failures
    if not bad or not step.tries:
        return _skipped_before(step)
    last = step.tries[-1]
    earlier = [t for t in bad if t is not last]
    if not earlier:
        return ""
    # An attempt the operator stopped (x) is said as that, not as a doubt.
    kinds = {"was stopped" if t.stopped else "failed" if t.state == "failed"
             else "was left in doubt" for t in earlier}
    named = [kind for kind in ("failed", "was stopped", "was left in doubt") if kind in kinds]
    what = " or ".join(named) if len(named) < 3 else f"{named[0]}, {named[1]} or {named[2]}"
    said = f"{what} {_times(len(earlier))}"
    # A later run of the journal is a resume; the same run, a retry.
    when = "on resume" if last.run > earlier[-1].run else "on retry"
    if last.bad:
        return f"{said} before" + (", in an earlier run" if when == "on resume" else "")
    if last.found:
        return f"{said}, then found {state_words(last.state)} {when}"
    return f"{said}, then {state_words(last.state)} {when}"


def _skipped_before(step: StepRun) -> str:
    """A step skipped in an earlier run, and not skipped at its end (operator
    trial: the reason was in `runbook log` alone)."""
    skips = [t for t in step.tries[:-1] if t.state == "skipped"]
    if not skips or step.tries[-1].state == "skipped":
        return ""
    last = step.tries[-1]
    reason = f" ({skips[-1].detail})" if skips[-1].detail else ""
    after = " on resume" if last.run > skips[-1].run else ""
    return f"skipped {_times(len(skips))}{reason}, then {state_words(last.state)}{after}"


def outcome_cell(step: StepRun) -> str:
    """The steps table's outcome: the state, and how it came to it; a cutover
    step the way back undid says so, its detail being what it found then."""
    how = history(step)
    said = f"{state_words(step.state)} ({how})" if how else state_words(step.state)
    after = step.after_the_way_back
    return said if after is None else said + after_the_way_back_said(after, step.way_back_did)


def took_cell(step: StepRun) -> str:
    """Its running time, every attempt's added up: for one cut off, at least
    the time to its run's last record, and "unknown" where nothing bounds it.
    One that never got past its check (found done, refused) ran nothing."""
    cut = [t for t in step.tries if t.cut_off]
    if not cut:
        return f"{duration(step.took)} ({step.attempts} attempts)" if step.attempts > 1 \
            else duration(step.elapsed_s)
    known = [t.elapsed_s for t in step.tries if t.elapsed_s is not None]
    bounds = [bound for bound in map(at_least, cut) if bound is not None]
    total = round(sum(known) + sum(bounds), 1)
    said = f"at least {duration(total)}" if duration(total) != duration(0) else "unknown"
    return f"{said} ({step.attempts} attempts, {len(cut)} cut off)" if step.attempts > 1 \
        else said


def failed_heading(step: StepRun) -> str:
    """A failed step's heading; one that came back from it says so first."""
    if step.state not in BAD_ENDS:
        return f"recovered ({history(step)})"
    return outcome_cell(step)


def attempt_line(report: Report, step: StepRun, attempt: Attempt) -> str:
    """Attempt 1 of 2 (first run), 17:34:32 to 17:36:30, 2 min 00 s: failed: ..."""
    number = step.tries.index(attempt) + 1
    run = "first run" if attempt.run <= 1 else f"resume {attempt.run - 1}"
    began = clock(attempt.started, report.started) if attempt.started else None
    ended = clock(attempt.ended, report.started) if attempt.ended else None
    when = (f"{began} to {ended}" if began and ended else began or ended or "-")
    bound = at_least(attempt)
    took = f", {duration(attempt.elapsed_s)}" if attempt.elapsed_s is not None else \
        f", at least {duration(bound)}" if bound is not None else ""
    return f"Attempt {number} of {step.attempts} ({run}), {when}{took}: {attempt_end(attempt)}"


def attempt_end(attempt: Attempt) -> str:
    """How an attempt ended, in words."""
    if attempt.ended is None and attempt.aborted:
        return f"aborted by the operator ({attempt.aborted})"
    if attempt.ended is None and attempt.left:
        return f"{attempt.left} while it ran; its end was not heard"
    if attempt.ended is None:
        return "no end recorded (the run was cut off while it ran)"
    return result_line(attempt.state, attempt.detail) if attempt.detail else \
        state_words(attempt.state)


def verdict(step: StepRun) -> str:
    """How a step's only attempt ended, in a line: its own words, or, where it
    ended with none (aborted, cut off), the attempt's (trial: a blank)."""
    if step.detail or not step.tries:
        return step.detail
    return attempt_end(step.tries[-1])


def failed_while_down(report: Report) -> tuple[str, list[tuple[str, str]]]:
    """What went wrong after the cutover began, what a downtime longer than
    expected is likely to be made of: its words ("Failed", "Cut off", both)
    and (step, how it went) for each step with such an attempt. An attempt
    left in doubt was cut off (a kill, a stop, a detach), not failed
    (operator trial)."""
    began = moment(report.downtime.began)
    if began is None:
        return "", []
    found, kinds = [], set()
    for step in report.steps:
        bad = [t for t in step.failures if (moment(t.ended or t.started) or began) >= began]
        if bad:
            found.append((step.id, history(step) or state_words(step.state)))
            kinds |= {"Stopped" if t.stopped else "Aborted" if t.aborted else
                      "Left running" if t.left else
                      "Cut off" if t.state == "in-doubt" else "Failed" for t in bad}
    words = " or ".join(sorted(kinds, reverse=True)).capitalize()  # Failed or cut off
    return words, found


def breaks_while_down(report: Report, code: Callable[[str], str],
                      plain: Callable[[str], str]) -> str | None:
    """Each time the run ended while the stream manager was down and was
    resumed, as one sentence; `code` marks a step id as the format does, and
    `plain` makes the rest safe in it."""
    breaks = report.downtime.breaks
    if not breaks:
        return None
    said = []
    for gap in breaks:
        where = "" if gap.step is None else \
            f"{plain(' in ' if gap.in_step else ' after ')}{code(gap.step)}"
        # The last record, not the moment it ended: a kill leaves no record
        # of its own, and a wait records nothing as it goes (re-trial: "at"
        # read as the kill's time, the gap after it as the whole gap).
        later = between(gap.ended, gap.resumed)
        after = f", {duration(later)} after that record" if later is not None else ""
        said.append(plain(gap.how) + where + plain(
            f" (its last record at {clock(gap.ended, report.started)}), resumed at "
            f"{clock(gap.resumed, report.started)}{after}"))
    times = "once" if len(breaks) == 1 else f"{len(breaks)} times"
    return (plain(f"The run ended {times} while the stream manager was down, and was "
                  "resumed; the time between is downtime too: ")
            + plain("; ").join(said) + plain("."))


def after_list(report: Report) -> tuple[str, list[Note]]:
    """The follow-ups' list and its title: an upgrade's to do after it, or
    what a way back that finished left on the host."""
    if report.to_do_after:
        return "After the upgrade", report.to_do_after
    return "Left on the host after the way back", report.left_after_the_way_back


# --- where the stream manager stands ------------------------------------------------------


def earlier_configs(report: Report) -> list[str]:
    """The configs earlier sessions of the run used, where not the last's."""
    return [config for config in report.configs if config != report.config]


def releases(report: Report) -> list[tuple[str, str]]:
    """The summary's rows on the releases, in plain words. A run that went back
    says what stands now: the old release again, not an upgrade (operator
    trial: "3.1 → 4.0" beside "answers from the old install")."""
    if report.downtime.began is None:
        # No cutover: nothing was upgraded (operator trial: "6.2.0 → 11.1.0"
        # and "After the upgrade" for a run stopped in prepare).
        live = report.version_from or "the live release (its version is not on record)"
        to = f" to {report.version_to}" if report.version_to else ""
        return [("Release", f"{live}, as before: the cutover{to} did not begin"),
                ("Stream Manager API", report.api_from or "-")]
    if not report.went_back:
        heard = report.service or "the new install was not heard from"
        # Still down, steps to go: not "after the upgrade" (operator trial).
        now = ("After the upgrade", heard) if report.downtime.complete else \
            ("So far", f"{heard}; the cutover is not finished")
        return [("Release", versions(report.version_from, report.version_to)),
                ("Stream Manager API", versions(report.api_from, report.api_to)), now]
    if not report.rolled_back:
        return [("Release", f"{versions(report.version_from, report.version_to)}; the way "
                            "back began and did not finish"),
                ("Stream Manager API", versions(report.api_from, report.api_to)),
                ("After the way back", report.service_back or "the old install was not heard "
                                                              "from")]
    old = report.version_from or "the old release (its version is not on record)"
    release = f"{old} again"
    if report.version_to:
        release += f": the upgrade to {report.version_to} was rolled back"
    api_old = report.api_back or report.api_from or "the old API (its version is not on record)"
    api = f"{api_old} again"
    if report.service is not None and report.api_to:
        api += f" ({report.api_to} answered from the new release before the way back)"
    return [("Release", release), ("Stream Manager API", api),
            ("After the way back", report.service_back or "the old install was not heard from")]


# A way back's downtime next to an upgrade's reads as "took longer": it is not
# the same work (operator trial: "59.8 s longer").
NOT_COMPARED = ("This downtime includes the way back to the old release; an upgrade's "
                "cutover does not, so it is not compared with one.")


# --- the pace ----------------------------------------------------------------------------

# A rehearsal's --fault list (trial: its report told a staged failure as a real
# one, with a firewall to open).
FAULTS_STAGED = ("{}: failed on purpose (rehearse --fault), so the failures they caused are "
                 "practice, not the host's")
# One staged whose step never ran (trial 56 F1: called "failed on purpose").
FAULTS_NEVER_UP = "{}: staged, never came up (their step did not run), so nothing failed of them"


# One whose step lost the connection and then ended done (trial 58, L7).
FAULTS_RECOVERED = "{}: came up, and the step recovered after reconnecting, so nothing failed"


def faults_staged_words(came_up: list[str], never: list[str],
                        recovered: Sequence[str] = ()) -> str:
    """The report's "Faults staged" row: what failed on purpose, what came
    up but the step recovered from, and what was staged but never came up;
    empty for a run that staged none."""
    failed = [fault for fault in came_up if fault not in recovered]
    got_over = [fault for fault in came_up if fault in recovered]
    return "; ".join([*([FAULTS_STAGED.format(", ".join(failed))] if failed else []),
                      *([FAULTS_RECOVERED.format(", ".join(got_over))] if got_over else []),
                      *([FAULTS_NEVER_UP.format(", ".join(never))] if never else [])])


def pace_words(pace: float | None) -> str:
    """A rehearsal's pace for its report: its name or multiplier, and what it
    means for the fake cloud's times (README, Rehearsal)."""
    if pace is None:
        return ("not on record (journalled before the pace was, or resumed at another pace): "
                "its times compare with no other run's")
    if same_pace(pace, REAL_PACE):
        return "real: the fake cloud takes as long as a real one"
    name = "fast" if same_pace(pace, FAST_PACE) else _plain(pace)
    if pace == 0:
        return f"{name}: the fake cloud's nodes come and go at once"
    faster = pace < REAL_PACE
    times = _multiplier(REAL_PACE / pace if faster else pace / REAL_PACE)
    if times == "1":
        return f"{name}: the fake cloud goes about as fast as a real one"
    if faster:
        return f"{name}: the fake cloud goes {times} times faster than a real one"
    return f"{name}: the fake cloud takes {times} times as long as a real one"


def _multiplier(ratio: float) -> str:
    """A multiplier to three figures, in plain digits: 40, 2.5, 100,000 (not
    1e+05); past a million, no digits worth reading."""
    if ratio > 1e6:
        return "over a million"
    shown = f"{ratio:.3g}"
    return f"{float(shown):,.0f}" if "e" in shown else shown


def _plain(pace: float) -> str:
    """A pace as the operator would write it: 0.00001, 2500 (not 1e-05,
    2.5e+03); one past any sense stays in exponent form."""
    if not 1e-6 <= pace < 1e7:
        return f"{pace:g}"
    return format(Decimal(repr(pace)).normalize(), "f")


def pace_name(pace: float | None) -> str:
    if pace is None:
        return "an unknown pace"
    if same_pace(pace, REAL_PACE):
        return "the real pace"
    return "the fast pace" if same_pace(pace, FAST_PACE) else f"pace {_plain(pace)}"


def estimate_source(report: Report) -> str:
    """Which run the downtime is set against, "last rehearsal at the fast pace":
    the pace is the point, since only a run at this one's counts (and, for a
    run answered by --yes, only one answered so). A production run set
    against another needs no word of the pace."""
    d = report.downtime
    which = "last rehearsal" if d.estimate_is_rehearsal else "last run"
    if report.rehearsal or d.estimate_is_rehearsal:
        which += f" at {pace_name(report.pace)}"
    if report.unattended:
        which += " answered by --yes"  # only runs answered so compare (journal_unattended)
    return which


def rehearsal_estimate_note(report: Report) -> str | None:
    """What a real-pace rehearsal's time stands for, said where a production
    run is set against one: it paces the fake cloud only (README, "Pace"),
    and Red5's upgrade page gives its own range (facts audit 56a, L7)."""
    d = report.downtime
    if report.rehearsal or not d.estimate_is_rehearsal or d.estimate_s is None \
            or d.estimate_from is None:
        return None
    return ("A rehearsal at the real pace times only its fake cloud (the two-minute node "
            "boot and a 60 s teardown); the server's start, the webapp's load and the "
            "number of nodegroups are the rehearsal's own. Red5's upgrade page expects 15 to "
            "60 minutes of downtime, more with more nodegroups and nodes.")


def before_totals(report: Report) -> tuple[str, str]:
    """The origins and nodes before the cutover, summed over the snapshot's
    nodegroups: "?" when the snapshot could not be read (a throwaway
    rehearsal's went with its sandbox), which is not none."""
    if report.fleet.problem:
        return "?", "?"
    rows = [before for before, _ in report.fleet.rows if before]
    return (str(sum(b.origins or 0 for b in rows)), str(sum(b.nodes or 0 for b in rows)))


def nothing_recreated(report: Report) -> str:
    """The fleet section with no rows: none before, or none known."""
    if report.fleet.problem:
        return "None recreated; the nodegroups before are not known."
    return "No nodegroups before, none recreated."


def downtime_took(d: Downtime) -> str:
    """The downtime's length; for a run that ended with the stream manager
    still down, at least the time to its end (operator trial: a bare figure
    read as an outage that was over); for one cut off with no end of its
    cutover on record, at least the time to the journal's last record."""
    if d.complete:
        return duration(d.seconds)
    if d.seconds is not None:
        return f"at least {duration(d.seconds)}"
    seen = between(d.began, d.last_seen)
    if _ends_as_begun(d):
        return "not on record (the journal ends as the cutover began)"
    return f"at least {duration(seen)}" if seen is not None else "-"


def _ends_as_begun(d: Downtime) -> bool:
    """A journal cut off within a moment of its cutover's start: how long the
    stream manager stayed down after is not on record (its first wait's
    progress is not journalled)."""
    seen = between(d.began, d.last_seen)
    return not d.complete and d.seconds is None and seen is not None \
        and seen < ENDS_AS_BEGUN_S


def downtime_verdict(report: Report) -> str | None:
    """The sentence under a run's downtime: unfinished, not comparable (a way
    back's), set against the estimate, or why there is none. One wording for
    Markdown and HTML; None when there is nothing to say."""
    d = report.downtime
    if _ends_as_begun(d):
        return ("The run was cut off as the cutover began: the stream manager was down "
                "from then, for how long is not on record.")
    if not d.complete and d.seconds is None:
        return ("The run was cut off with the cutover unfinished: the stream manager was "
                f"still down at the journal's last record, {downtime_took(d)} after the "
                "cutover began, and may have stayed down longer.")
    if not d.complete:
        return ("The run ended with the cutover unfinished: the stream manager was still "
                f"down, {duration(d.seconds)} after it began.")
    if report.went_back:
        return NOT_COMPARED
    if d.seconds is not None and d.estimate_s is not None:
        delta = d.seconds - d.estimate_s
        word = "longer" if delta > 0 else "shorter"
        against = f"{duration(d.seconds)} against {duration(d.estimate_s)}"
        if duration(abs(delta)) == duration(0):  # "0.0 s shorter" (operator trial)
            return f"{against}: as estimated, within a tenth of a second."
        return f"{against}: {duration(abs(delta))} {word}."
    if d.estimate_s is None:
        return no_estimate(report)
    return None
