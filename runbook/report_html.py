"""The run report as one self-contained HTML file.

Inline CSS, no scripts, no links, no external resources: it opens the same
from a ticket attachment, an air-gapped laptop or a mail. Every text from the
journal goes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape

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
from runbook.visible import printable

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #1d2125; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
     border-bottom: 1px solid #d0d4d9; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d4d9; padding: .25em .6em; text-align: left;
         vertical-align: top; }
th { background: #f1f3f5; }
code, pre { font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .6em; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; }
.done { color: #1a7f37; } .failed, .in-doubt { color: #cf222e; font-weight: 600; }
.skipped, .stopped { color: #9a6700; } .muted { color: #656d76; }
"""


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def _code(text: str) -> str:
    return f"<code>{_e(text)}</code>"


def _pre(lines: list[str]) -> str:
    return "<pre>" + "\n".join(_e(line) for line in lines) + "</pre>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _state(state: str, words: str | None = None) -> str:
    # The token names the class its colour hangs on; the operator reads words.
    said = state_words(state) if words is None else words
    return f'<span class="{_e(state.replace(" ", "-"))}">{_e(said)}</span>'


def html(report: Report) -> str:
    parts = [_summary(report), _downtime(report), _steps(report), _warnings(report),
             _after(report), _skipped(report), _properties(report), _fleet(report), _failed(report),
             _commands(report), _remarks(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title(report))}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title(report))}</h1>\n" + "\n".join(p for p in parts if p)
            + "\n</body>\n</html>\n")


def _summary(report: Report) -> str:
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
    rows = [
        ("Operator", _e(report.operator or "unknown")),
        ("Target", _code(report.host or "?")),
        ("Host key", _code(report.fingerprint) if report.fingerprint else "not recorded"),
        ("Config", _code(report.config or "?") + (" (a rehearsal)" if report.rehearsal else "")
         + "".join(f"; earlier sessions: {', '.join(_code(c) for c in earlier)}"
                   for earlier in [earlier_configs(report)] if earlier)),
        *([("Pace", _e(pace_words(report.pace)))] if report.rehearsal else []),
        *([("Faults staged", _e(faults_staged_words(
            report.faults, report.faults_never_up, report.faults_recovered)))]
          if report.faults or report.faults_never_up else []),
        *((name, _e(value)) for name, value in releases(report)),
        ("Started", _e(stamp(report.started))),
        ("Ended", _e(ended)),
        ("Outcome", _e(outcome)),
        *([("Way back", _e(report.way_back_why))] if report.way_back_why else []),
        *([("Where it stands", _e(report.standing))] if report.standing else []),
        *((what, _code(command)) for what, command in report.going_on),
        *([("Before another attempt", _e(report.before_another_attempt))]
          if report.before_another_attempt else []),
        ("Journal", _code(str(report.path))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _downtime(report: Report) -> str:
    d = report.downtime
    out = ["<h2>Downtime</h2>"]
    which = estimate_source(report)
    if d.began is None:
        out.append("<p>The run did not reach cutover: the stream manager was not taken "
                   "down.</p>")
        if d.estimate_s is not None and d.estimate_from is not None:
            out.append(f"<p>The {_e(which)} took {_e(duration(d.estimate_s))} for its cutover "
                       f"({_code(str(d.estimate_from))}).</p>")
        return "\n".join(out)
    rows = [["this run", _e(clock(d.began, report.started)),
             _e(clock(d.ended, report.started)) if d.ended and d.complete else "-",
             _e(downtime_took(d))]]
    compared = not report.went_back
    if compared and d.estimate_s is not None and d.estimate_from is not None:
        rows.append([f"{_e(which)} ({_code(str(d.estimate_from))})", "", "",
                     _e(duration(d.estimate_s))])
    out.append(_table(["", "began", "ended", "took"], rows))
    if compared and (note := rehearsal_estimate_note(report)) is not None:
        out.append(f"<p>{_e(note)}</p>")
    words, failed = failed_while_down(report)
    if failed:
        out.append(f"<p>{_e(words)} while the stream manager was down: "
                   + "; ".join(f"{_code(step)} ({_e(how)})" for step, how in failed)
                   + " (see Output of failed steps).</p>")
    breaks = breaks_while_down(report, _code, _e)
    if breaks is not None:
        out.append(f"<p>{breaks}</p>")
    verdict = downtime_verdict(report)
    if verdict is not None:
        out.append(f"<p>{_e(verdict)}</p>")
    return "\n".join(out)


def _steps(report: Report) -> str:
    rows = []
    for number, step in enumerate(report.steps, start=1):
        rows.append([str(number), _code(step.id), _e(clock(step.started, report.started)),
                     _e(clock(step.ended, report.started)), _e(took_cell(step)),
                     _state(step.state, outcome_cell(step)), _e(step.detail)])
    note = f'\n<p class="muted">{_e(took_note(report))}</p>' if took_note(report) else ""
    return "<h2>Steps</h2>\n" + _table(
        ["#", "step", "started", "ended", "took", "outcome", "detail"], rows) + note


def _warnings(report: Report) -> str:
    if not report.warnings:
        return "<h2>Warnings</h2>\n<p>None.</p>"
    items = []
    for note in report.warnings:
        first, *rest = note.text.split("\n")
        items.append(f"<li>{_code(note.step or 'run')} {_e(clock(note.ts, report.started))}: "
                     f"{_e(first)}{_e(said_again(note, report.started))}"
                     f"{_pre(rest) if rest else ''}</li>")
    return "<h2>Warnings</h2>\n<ul>" + "".join(items) + "</ul>"


def _after(report: Report) -> str:
    """For the change ticket's follow-ups (operator trial 53): what an upgrade
    leaves to do, or what a way back left on the host (trial 56, F2)."""
    title, notes = after_list(report)
    if not notes:
        return ""
    return f"<h2>{_e(title)}</h2>\n<ul>" + "".join(
        f"<li>{_code(note.step) + ': ' if note.step else ''}{_e(note.text)}</li>"
        for note in notes) + "</ul>"


def _skipped(report: Report) -> str:
    if not report.skipped:
        return "<h2>Skipped steps</h2>\n<p>None.</p>"
    return "<h2>Skipped steps</h2>\n<ul>" + "".join(
        f"<li>{_code(s.id)}: {_e(s.skip_reason or 'no reason recorded')}</li>"
        for s in report.skipped) + "</ul>"


def _properties(report: Report) -> str:
    out = ["<h2>Properties decisions</h2>"]
    step = report.properties
    if step is None or step.state == "not reached":
        return out[0] + "\n<p>The properties step did not run.</p>"
    out.append(f"<p>{_code(step.id)}: {_state(step.state)}; {_e(step.detail)}</p>")
    said = [line for _stream, line in step.lines]  # its notes among them
    if said:
        out.append(_pre([line for text in said for line in text.split("\n")]))
    for action in step.actions:
        if action.kind == "editfile":
            first, *review = action.text.split("\n")
            out.append(f"<p>{_e(first)}</p>" + (_pre(review) if review else ""))
    return "\n".join(out)


def _cells(group: Nodegroup, *, counts: bool) -> list[str]:
    cells = [_code(group.name), _e(", ".join(group.regions))]
    if counts:
        cells += [_e(group.launch_config), _e(group.scale_policy),
                  str(group.origins if group.origins is not None else "?"),
                  str(group.nodes if group.nodes is not None else "?")]
    else:
        cells.append(str(group.origins if group.origins is not None else "?"))
    return cells


def _fleet(report: Report) -> str:
    fleet = report.fleet
    out = ["<h2>Nodegroups and origins</h2>"]
    if fleet.problem:
        out.append(f"<p>Before: not known: {_e(fleet.problem)}</p>")
    else:
        api = f" (API {_e(fleet.api_version)})" if fleet.api_version else ""
        out.append(f"<p>Before: the snapshot taken {_e(stamp(fleet.taken))}{api}, "
                   f"{_code(fleet.snapshot or '?')}. Launch configs: "
                   f"{', '.join(map(_code, fleet.launch_configs)) or 'none'}; scale policies: "
                   f"{', '.join(map(_code, fleet.scale_policies)) or 'none'} (names only: "
                   "their bodies hold cloud settings and stay in the snapshot).</p>")
    if not fleet.rows:
        return "\n".join([*out, f"<p>{_e(nothing_recreated(report))}</p>"])
    missing = "not recreated" if report.downtime.began else "untouched (no cutover)"
    rows = []
    for before, after in fleet.rows:
        left = _cells(before, counts=True) if before else ["-"] * 6
        right = _cells(after, counts=False) if after else [_e(missing), "-", "-"]
        rows.append(left + right)
    rows.append(["<b>total</b>", "", "", "", *before_totals(report),
                 str(sum(1 for _, a in fleet.rows if a)), "",
                 str(sum(a.origins or 0 for _, a in fleet.rows if a))])
    out.append(_table(["nodegroup before", "regions", "launch config", "scale policy",
                       "origins", "nodes", "nodegroup after", "regions after",
                       "origins launched"], rows))
    return "\n".join(out)


def _failed(report: Report) -> str:
    out = ["<h2>Output of failed steps</h2>"]
    steps = [step for step in report.steps if step.failures]
    if not steps:
        return out[0] + "\n<p>No step failed.</p>"
    for step in steps:
        heading = _state(step.state, failed_heading(step))
        out += [f"<h3>{_code(step.id)}: {heading}</h3>", *_attempts(report, step)]
    return "\n".join(out)


def _attempts(report: Report, step: StepRun) -> list[str]:
    """Each attempt that failed with what it printed; how the step ended after."""
    if step.attempts == 1:
        return [f"<p>{_e(verdict(step))}</p>", _said(step.lines)]
    out: list[str] = []
    for attempt in step.tries:
        if attempt.bad:
            out += [f"<p>{_e(attempt_line(report, step, attempt))}</p>", _said(attempt.lines)]
    if step.recovered:
        out.append(f"<p>{_e(attempt_line(report, step, step.tries[-1]))}</p>")
    return out


def _said(lines: list[tuple[str, str]]) -> str:
    if not lines:
        return "<p>No output of it was recorded.</p>"  # as report_md says it
    return _pre([line for _stream, line in lines])


def _commands(report: Report) -> str:
    out = ["<h2>Commands and API calls</h2>",
           '<p class="muted">The actions of each step\'s plan as run, in order, secrets masked; '
           "each with the time it started and how it ended. The read-only looks a step takes "
           "to decide or to wait (file tests and reads, checksums, service status, Stream "
           "Manager API and database reads) are not recorded, so not listed.</p>"]
    for number, step in enumerate(report.steps, start=1):
        if not step.actions:
            continue
        lines: list[str] = []
        for action in step.actions:
            lines += [action_line(action, report.started),
                      *shown(step, action)]
        out += [f"<h3>{number}. {_code(step.id)}</h3>", _pre(lines)]
    return "\n".join(out)


def _remarks(report: Report) -> str:
    if not report.remarks:
        return ""
    return "<h2>On the record</h2>\n<ul>" + "".join(
        f"<li>{_e(r)}</li>" for r in report.remarks) + "</ul>"
