"""`runbook log`: a journal as the lines its runs showed, step by step, with
where each run stopped and the next began. The report (runbook.report) says
what happened; this says what the operator saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.config import CommandRefused
from runbook.journal import Record, text_of
from runbook.journal_replay import lost_words
from runbook.model import outcome_words, result_line, signal_cause
from runbook.report import journal_records
from runbook.standing import said_time
from runbook.visible import printable


def log_lines(path: Path, *, step: str | None = None, grep: str | None = None,
              continued: bool = False) -> list[tuple[str, str]]:
    """(step, line) for every line the run showed, in order: the commands as
    they started, their output, the notes and how each step ended; only
    `step`'s, and only those holding `grep` (in any case), when given."""
    records, torn = journal_records(path)
    lines: list[tuple[str, str]] = []
    steps: dict[str, None] = {}
    runs = 0
    running = False  # a run began and has recorded no end
    previous_end: dict[str, Any] | None = None  # the run before's run-end record
    last = ""  # the time of the record before this one: a cut came after it
    current = ""  # the step of the last record that named one
    way_back = False  # a way back began earlier in the journal
    attempts = 0  # reconnecting records since the connection was lost
    for record in records:
        step_id = text_of(record.get("step"))
        event = record["event"]
        if event == Record.RUN_START:
            steps.update(dict.fromkeys(text_of(s) for s in record.get("steps") or []))
            if running:
                lines.append(_cut_off(last))
            elif previous_end is not None:
                # (Operator trial: "resumed" with no word of how the run before ended.)
                lines.append(_run_ended(previous_end))
            lines += _run_began(record, first=runs == 0)
            runs += 1
            running = True
        elif event == Record.RUN_END:
            running = False
            previous_end = record
        last = text_of(record.get("ts")) or last
        if step_id:
            steps[step_id] = None
            current = step_id
        if event == Record.RUN_START:
            attempts = 0  # that run's first connection is not a return
        if event == Record.CONNECTED and attempts:
            # When it was back: what waited for it ran then (trial 56, F4).
            lines.append((current or RUN_MARK, f"SSH connection back at "
                          f"{_said(text_of(record.get('ts')))}, after {attempts} attempt"
                          + ("" if attempts == 1 else "s")))
            attempts = 0
        if event == Record.RECONNECT_GAVE_UP:
            # Where the status line stopped saying "reconnecting" (review 62, G8).
            within = record.get("within_s")
            after = f" after {within:g}s" if isinstance(within, int | float) else ""
            lines.append((current or RUN_MARK, f"SSH connection lost "
                          f"({text_of(record.get('reason'))}): gave up reconnecting{after}"))
        if event == Record.RECONNECTING:
            attempts += 1
            # Under the step it cut, as the screen shows it (operator trial).
            lines.append((current or RUN_MARK, f"SSH connection lost "
                          f"({text_of(record.get('reason'))}): reconnecting, attempt "
                          f"{text_of(record.get('attempt'))}"))
        elif event == Record.OUTPUT:
            lines += [(step_id, text_of(item[1])) for item in record.get("lines") or []
                      if isinstance(item, list) and len(item) == 2]
        elif event in (Record.ACTION_START, Record.NOTE):
            lines += [(step_id or RUN_MARK, line)
                      for line in text_of(record.get("text")).split("\n")]
        elif event in (Record.ABORTED, Record.DETACHED):
            lines += _left(record)
        elif event == Record.WAY_BACK:
            # Between the failure and the way back's first command (trial).
            # Where it began, once: each resume of it records it again
            # (trial 56 F5: "began" at every resume).
            why = text_of(record.get("why"))
            lines.append((RUN_MARK, f"the way back to the old stream manager "
                                    f"{'resumed' if way_back else 'began'}"
                                    + (f": {why}" if why else "")))
            way_back = True
        elif event == Record.STEP_END and record.get("detail"):
            # How it ended, as the step's page and headless said it (a failure
            # can quote an API's stack trace: one entry a line, as above).
            ended = result_line(text_of(record.get("state")), text_of(record["detail"]))
            lines += [(step_id, line) for line in ended.split("\n")]
    if running and continued:  # this process goes on with it: it was cut off
        lines.append(_cut_off(last))
    elif not running and previous_end is not None:
        lines.append(_run_ended(previous_end))  # the last word of it (trial)
    elif running:
        # No end on record: cut off (nothing else marks it till a later run
        # begins), or still going as this is read.
        lines.append((RUN_MARK, f"no end on record after {_said(last)}: the run was cut off "
                                "then, or is still going"))
    if torn is not None:
        lines.append((RUN_MARK, torn))
    if step is not None and step not in steps:
        # Said as the door says log's options' refusals (re-trial 53: it began
        # "runbook: J: no step ..." as a damaged file's does).
        raise CommandRefused("log", f"--step {step}: no step of that name in {path}; its "
                             f"steps: {', '.join(steps) or 'none'}")
    wanted = (grep or "").casefold()
    return [(s, printable(line)) for s, line in lines
            if (step is None or s in (step, RUN_MARK)) and wanted in line.casefold()]


RUN_MARK = "runbook"  # the "step" of the lines that mark where a run stopped and began


def _run_began(record: dict[str, Any], *, first: bool) -> list[tuple[str, str]]:
    """Where a later run of the journal begins: said, so one run's lines do
    not read on into the next's (kept beside a single step's lines too: a
    step can run across the cut)."""
    if first:
        return []
    began = "resumed" if record.get("resumed") else "a new run began"
    return [(RUN_MARK, f"{began} {_said(text_of(record.get('ts')))}")]


def _run_ended(record: dict[str, Any]) -> tuple[str, str]:
    """How a run that a later one continues ended, and when."""
    outcome = text_of(record.get("outcome")) or "ended"
    code = record.get("exit_code")
    exit_code = f" (exit {code})" if isinstance(code, int) else ""
    lost = record.get("journal_lost")
    why = f": {lost_words(lost)}" if isinstance(lost, str) and lost else ""
    return (RUN_MARK, f"{outcome_words(outcome)} {_said(text_of(record.get('ts')))}{exit_code}"
                      f"{why}")


def _left(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The operator's abort, or runbook left while steps ran: under each step,
    as the last word of it in that run (operator trial: the log ended with the
    step's output as if nothing had happened)."""
    steps = [text_of(s) for s in record.get("steps") or []]
    if record["event"] == Record.ABORTED and record.get("went_on"):
        # Stopped (x): the run went on, and the step's end says the rest.
        return [(step, "stopped by the operator while it ran") for step in steps]
    if record["event"] == Record.ABORTED:
        how = "aborted by the operator"
    else:
        who = signal_cause(record.get("exit_code")) or "the operator left runbook"
        if not steps:
            return [(RUN_MARK, f"{who} while the run waited on the operator")]
        how = f"{who} while it ran"
    return [(step, f"{how}: in doubt until a run checks the host") for step in steps]


def _cut_off(last: str) -> tuple[str, str]:
    return (RUN_MARK, f"cut off here, after {_said(last)}: that run recorded no end (stopped "
                      "by a kill, a lost terminal or its machine going down)")


def _said(ts: str) -> str:
    return said_time(ts) if ts else "a time not recorded"
