"""The run report as Markdown, to paste into the change ticket.

Every text from the journal is escaped (or fenced) so that nothing in an
output line or a detail turns into markup where the ticket renders it.
"""

from __future__ import annotations

import re

from runbook.journal_replay import lost_words
from runbook.model import outcome_words, state_words
from runbook.report import Nodegroup, Report, StepRun, clock
from runbook.report_format import (
    action_line,
    after_list,
    attempt_line,
    before_totals,
    between,
    breaks_while_down,
    downtime_took,
    downtime_verdict,
    duration,
    earlier_configs,
    estimate_source,
    failed_heading,
    failed_while_down,
    faults_staged_words,
    nothing_recreated,
    outcome_cell,
    pace_words,
    rehearsal_estimate_note,
    releases,
    said_again,
    shown,
    stamp,
    title,
    took_cell,
    took_note,
    verdict,
)
from runbook.shell import ADD_THIS_LINE
from runbook.visible import printable

# Enough to keep text plain: no emphasis, links, HTML, table cells or strikes.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


def _md(text: str) -> str:
    """Plain text that stays plain in Markdown: one line, punctuation escaped.
    The line a refused host key's advice says to add to known_hosts (the one
    after its "then add this line to FILE:") is a code span, which Markdown
    takes as it is: escaped, copied from the raw .md it carried backslashes
    (re-trial 53: `\\[127.0.0.1\\]:2222 ssh-ed25519 ...`)."""
    lines = text.split("\n")
    # Not a line with a |, which would split a table's cell even in a span.
    said = [_code(line) if before.endswith(":") and ADD_THIS_LINE in before and line.strip()
            and "|" not in line else _SPECIAL.sub(r"\\\1", printable(line))
            for before, line in zip(["", *lines], lines, strict=False)]
    return " ".join(said)


def _code(text: str) -> str:
    """An inline code span that holds any backticks in `text`."""
    text = printable(" ".join(text.split("\n")))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _block(lines: list[str]) -> list[str]:
    """A fenced block longer than any fence inside it."""
    body = [printable(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall(r"`{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return [fence, *body, fence]


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(report: Report) -> str:
    out = [f"# {_md(title(report))}", ""]
    for part in (_summary, _downtime, _steps, _warnings, _after, _skipped, _properties,
                 _fleet, _failed, _commands, _remarks):
        out += part(report)
    return "\n".join(out).rstrip("\n") + "\n"


def _summary(report: Report) -> list[str]:
    took = between(report.started, report.ended)
    ended = f"{stamp(report.ended)} (after {duration(took)})" if report.ended else \
        "no run-end recorded: the run was cut off"
    outcome = outcome_words(report.outcome) if report.outcome else "unknown"
    if report.exit_code is not None:
        outcome += f" (exit {report.exit_code})"
    if report.journal_lost:
        outcome += f": {lost_words(report.journal_lost)}"
    if report.runs > 1:
        outcome += f"; resumed {report.runs - 1} time(s)"
    config = _code(report.config or "?") + (" (a rehearsal)" if report.rehearsal else "")
    if earlier := earlier_configs(report):
        config += "; earlier sessions: " + ", ".join(_code(c) for c in earlier)
    rows = [
        ("Operator", _md(report.operator or "unknown")),
        ("Target", _code(report.host or "?")),
        ("Host key", _code(report.fingerprint) if report.fingerprint else "not recorded"),
        ("Config", config),
        *([("Pace", _md(pace_words(report.pace)))] if report.rehearsal else []),
        *([("Faults staged", _md(faults_staged_words(
            report.faults, report.faults_never_up, report.faults_recovered)))]
          if report.faults or report.faults_never_up else []),
        *((name, _md(value)) for name, value in releases(report)),
        ("Started", stamp(report.started)),
        ("Ended", ended),
        ("Outcome", _md(outcome)),
        *([("Way back", _md(report.way_back_why))] if report.way_back_why else []),
        *([("Where it stands", _md(report.standing))] if report.standing else []),
        *((what, _code(command)) for what, command in report.going_on),
        *([("Before another attempt", _md(report.before_another_attempt))]
          if report.before_another_attempt else []),
        ("Journal", _code(str(report.path))),
    ]
    return [_row("", ""), _row("---", "---"), *(_row(k, v) for k, v in rows), ""]


def _downtime(report: Report) -> list[str]:
    d = report.downtime
    out = ["## Downtime", ""]
    which = estimate_source(report)
    if d.began is None:
        out += ["The run did not reach cutover: the stream manager was not taken down.", ""]
        if d.estimate_s is not None and d.estimate_from is not None:
            out += [f"The {which} took {duration(d.estimate_s)} for its cutover "
                    f"({_code(str(d.estimate_from))}).", ""]
        return out
    out += [_row("", "began", "ended", "took"), _row("---", "---", "---", "---"),
            _row("this run", clock(d.began, report.started),
                 clock(d.ended, report.started) if d.ended and d.complete else "-",
                 downtime_took(d))]
    compared = not report.went_back
    if compared and d.estimate_s is not None and d.estimate_from is not None:
        out.append(_row(f"{which} ({_code(str(d.estimate_from))})", "", "",
                        duration(d.estimate_s)))
    out.append("")
    if compared and (note := rehearsal_estimate_note(report)) is not None:
        out += [_md(note), ""]
    words, failed = failed_while_down(report)
    if failed:
        out += [f"{words} while the stream manager was down: "
                + "; ".join(f"{_code(step)} ({_md(how)})" for step, how in failed)
                + " (see Output of failed steps).", ""]
    breaks = breaks_while_down(report, _code, _md)
    if breaks is not None:
        out += [breaks, ""]
    verdict = downtime_verdict(report)
    if verdict is not None:
        out += [_md(verdict), ""]
    return out


def _steps(report: Report) -> list[str]:
    out = ["## Steps", "", _row("#", "step", "started", "ended", "took", "outcome", "detail"),
           _row("---", "---", "---", "---", "---", "---", "---")]
    for number, step in enumerate(report.steps, start=1):
        out.append(_row(str(number), _code(step.id), clock(step.started, report.started),
                        clock(step.ended, report.started), took_cell(step),
                        _md(outcome_cell(step)), _md(step.detail)))
    out.append("")
    if took_note(report):
        out += [_md(took_note(report)), ""]
    return out


def _warnings(report: Report) -> list[str]:
    out = ["## Warnings", ""]
    if not report.warnings:
        return [*out, "None.", ""]
    for note in report.warnings:
        first, *rest = note.text.split("\n")
        out.append(f"- {_code(note.step or 'run')} {clock(note.ts, report.started)}: {_md(first)}"
                   f"{_md(said_again(note, report.started))}")
        if rest:
            out += ["", *("  " + line for line in _block(rest)), ""]
    return [*out, ""]


def _after(report: Report) -> list[str]:
    """For the change ticket's follow-ups (operator trial 53): what an upgrade
    leaves to do, or what a way back left on the host (trial 56, F2)."""
    title, notes = after_list(report)
    if not notes:
        return []
    return [f"## {title}", "",
            *(f"- {_code(note.step)}: {_md(note.text)}" if note.step else f"- {_md(note.text)}"
              for note in notes), ""]


def _skipped(report: Report) -> list[str]:
    out = ["## Skipped steps", ""]
    if not report.skipped:
        return [*out, "None.", ""]
    out += [f"- {_code(s.id)}: {_md(s.skip_reason or 'no reason recorded')}"
            for s in report.skipped]
    return [*out, ""]


def _properties(report: Report) -> list[str]:
    out = ["## Properties decisions", ""]
    step = report.properties
    if step is None or step.state == "not reached":
        return [*out, "The properties step did not run.", ""]
    out += [f"{_code(step.id)}: {_md(state_words(step.state))}; {_md(step.detail)}", ""]
    said = [line for _stream, line in step.lines]  # its notes among them
    if said:
        out += [*_block([line for text in said for line in text.split("\n")]), ""]
    reviews = [a.text.split("\n") for a in step.actions if a.kind == "editfile"]
    for first, *review in reviews:
        out += [_md(first), ""]
        if review:
            out += [*_block(review), ""]
    return out


def _group(group: Nodegroup | None, *, counts: bool) -> list[str]:
    if group is None:
        return ["-"] * (6 if counts else 3)
    cells = [_code(group.name), _md(", ".join(group.regions))]
    if counts:
        cells += [_md(group.launch_config), _md(group.scale_policy),
                  str(group.origins if group.origins is not None else "?"),
                  str(group.nodes if group.nodes is not None else "?")]
    else:
        cells.append(str(group.origins if group.origins is not None else "?"))
    return cells


def _fleet(report: Report) -> list[str]:
    fleet = report.fleet
    out = ["## Nodegroups and origins", ""]
    if fleet.problem:
        out += [f"Before: not known: {_md(fleet.problem)}", ""]
    else:
        api = f" (API {_md(fleet.api_version)})" if fleet.api_version else ""
        out += [f"Before: the snapshot taken {stamp(fleet.taken)}{api}, "
                f"{_code(fleet.snapshot or '?')}. Launch configs: "
                f"{', '.join(map(_code, fleet.launch_configs)) or 'none'}; scale policies: "
                f"{', '.join(map(_code, fleet.scale_policies)) or 'none'} (names only: their "
                "bodies hold cloud settings and stay in the snapshot).", ""]
    if not fleet.rows:
        return [*out, _md(nothing_recreated(report)), ""]
    missing = "not recreated" if report.downtime.began else "untouched (no cutover)"
    out += [_row("nodegroup before", "regions", "launch config", "scale policy", "origins",
                 "nodes", "nodegroup after", "regions after", "origins launched"),
            _row(*["---"] * 9)]
    for before, after in fleet.rows:
        right = _group(after, counts=False) if after else [_md(missing), "-", "-"]
        out.append(_row(*_group(before, counts=True), *right))
    origins, nodes = before_totals(report)
    launched = sum(a.origins or 0 for _, a in fleet.rows if a)
    out.append(_row("**total**", "", "", "", origins, nodes,
                    str(sum(1 for _, a in fleet.rows if a)), "", str(launched)))
    return [*out, ""]


def _failed(report: Report) -> list[str]:
    out = ["## Output of failed steps", ""]
    steps = [step for step in report.steps if step.failures]
    if not steps:
        return [*out, "No step failed.", ""]
    for step in steps:
        out += [f"### {_code(step.id)}: {_md(failed_heading(step))}", ""]
        out += _attempts(report, step)
    return out


def _attempts(report: Report, step: StepRun) -> list[str]:
    """Each attempt that failed with what it printed; how the step ended after."""
    if step.attempts == 1:
        return [_md(verdict(step)), "", *_said(step.lines), ""]
    out: list[str] = []
    for attempt in step.tries:
        if attempt.bad:
            out += [_md(attempt_line(report, step, attempt)), "", *_said(attempt.lines), ""]
    if step.recovered:
        out += [_md(attempt_line(report, step, step.tries[-1])), ""]
    return out


def _said(lines: list[tuple[str, str]]) -> list[str]:
    # Not "it printed nothing": an upload's progress is shown, not recorded,
    # and a kill takes output not yet written with it (operator trial).
    return _block([line for _stream, line in lines]) if lines else ["No output of it was recorded."]


def _commands(report: Report) -> list[str]:
    out = ["## Commands and API calls", "",
           "The actions of each step's plan as run, in order, secrets masked; each with the time",
           "it started and how it ended. The read-only looks a step takes to decide or to wait",
           "(file tests and reads, checksums, service status, Stream Manager API and database",
           "reads) are not recorded, so not listed.",
           ""]
    for number, step in enumerate(report.steps, start=1):
        if not step.actions:
            continue
        lines: list[str] = []
        for action in step.actions:
            lines += [action_line(action, report.started),
                      *shown(step, action)]
        out += [f"### {number}. {_code(step.id)}", "", *_block(lines), ""]
    return out


def _remarks(report: Report) -> list[str]:
    if not report.remarks:
        return []
    return ["## On the record", "", *(f"- {_md(r)}" for r in report.remarks), ""]
