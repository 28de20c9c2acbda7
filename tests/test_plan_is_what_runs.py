"""The plan is what runs: every action the journal records was in the plan the
operator confirmed for its step (a placeholder there may be filled in; a new
command may not appear)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runbook.executor import Outcome
from runbook.journal import Record
from runbook.model import Action, EditFile, Upload
from tests.rehearsal import rehearsal_host, rehearse
from tests.scripted import ScriptedFrontEnd

# What a plan shows where a value is only known when the step runs.
# Words only (<PID>, <api-version>, {each nodegroup}): braces in shell code or
# a JSON body stay literal.
_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z' _-]*>|\{[A-Za-z][A-Za-z' _-]*\}")


def _pattern(action: Action) -> re.Pattern[str]:
    # An edit's or an upload's detail (a diff, a review) can change while the step
    # runs (the operator decides keys in the editor): what it edits must not.
    shown = action.render().splitlines()[0] if isinstance(action, EditFile | Upload) \
        else action.render()
    literal = [re.escape(part) for part in _PLACEHOLDER.split(shown)]
    # A value, never a second command: no separator, pipe, substitution,
    # redirect or line break in what fills a placeholder (test audit: `.+?`
    # let "kill -9 4242; rm -rf /" pass for "kill -9 <PID>").
    return re.compile(_FILLED.join(literal) + r"\Z")


_FILLED = r"[^;&|`$()<>\n]+?"


def unplanned(journal: Path, plans: dict[str, list[Action]]) -> list[str]:
    """Journalled actions that match nothing in their step's confirmed plan."""
    found = []
    for line in journal.read_text().splitlines():
        record = json.loads(line)
        if record["event"] != Record.ACTION_START:
            continue
        text = record["text"]
        if record["kind"] in ("editfile", "upload"):
            text = text.splitlines()[0]
        patterns = [_pattern(action) for action in plans.get(record["step"], [])]
        if not any(pattern.match(text) for pattern in patterns):
            found.append(f"{record['step']}: {text}")
    return found


# 5.1-to-6.2: the kept unit's classpath edit, which the default never runs (review).
@pytest.mark.parametrize("scenario", ["6.2-to-11.1", "5.1-to-6.2"])
async def test_every_journalled_action_was_in_the_confirmed_plan(
        tmp_path: Path, scenario: str) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path, scenario=scenario) as host:
        front = ScriptedFrontEnd()
        outcome = await rehearse(host, front, journal)
        assert outcome is Outcome.DONE, front.text()[-3000:]
    actions = sum(1 for line in journal.read_text().splitlines()
                  if json.loads(line)["event"] == Record.ACTION_START)
    assert actions > 30, "a whole rehearsal runs many actions"
    missing = unplanned(journal, front.plans)
    assert missing == [], "\n".join(missing)
    if scenario != "6.2-to-11.1":
        assert any("sed -i" in line and "commons-daemon" in line
                   for line in journal.read_text().splitlines()), "the edit was journalled"
        # DONE because the merge set aws.forUsGovRegions, which 6.2.0's AWS bean
        # reads and the 5.1 file lacks: it was in the review shown, and the
        # edit journalled is that review's (facts audit 57b H1: the merge
        # left it commented out, and the rehearsal's stream manager, unlike a
        # real one, started anyway).
        edits = [json.loads(line) for line in journal.read_text().splitlines()
                 if '"editfile"' in line and "red5-web.properties" in line]
        assert any("aws.forUsGovRegions = false" in record["text"] for record in edits), edits
        return
    # Not journalled, still shown: start-service waits on the NEW release's API.
    waits = [a.curl for a in front.plans["start-service"] if getattr(a, "curl", None)]
    assert waits and all("/api/4.0/" in curl for curl in waits), waits
    # A value learnt before the question is shown, not left a placeholder
    # (operator trial: the schema dialog showed -P <port> after the new
    # database's port had been printed).
    for step in ("new-database", "schema"):
        shown = "\n".join(action.render() for action in front.plans[step])
        assert "<port>" not in shown and f"-P {host.new_db[1]}" in shown, shown


def test_a_command_not_in_the_plan_is_found(tmp_path: Path) -> None:
    """The check itself can fail: a journal with an action its plan never showed."""
    from runbook.model import Shell

    journal = tmp_path / "run.jsonl"
    journal.write_text(json.dumps({"event": "action-start", "step": "stop-service",
                                   "kind": "shell", "text": "$ sudo -n kill -9 4242"}) + "\n"
                       + json.dumps({"event": "action-start", "step": "stop-service",
                                     "kind": "shell", "text": "$ rm -rf /"}) + "\n"
                       + json.dumps({"event": "action-start", "step": "stop-service",
                                     "kind": "shell", "text": "$ sudo -n kill -9 4242; rm -rf /"})
                       + "\n")
    plans: dict[str, list[Action]] = {"stop-service": [Shell("sudo -n kill -9 <PID>")]}
    assert unplanned(journal, plans) == ["stop-service: $ rm -rf /",
                                         "stop-service: $ sudo -n kill -9 4242; rm -rf /"]


async def test_a_resume_after_promote_new_runs_only_what_its_plans_showed(
        tmp_path: Path) -> None:
    """Re-trial: prepare steps skipped, then run on a resume after promote-new,
    showed plans on the unpacked folder, gone by then, and ran on
    bak.red5pro -> red5pro: the operator confirmed other commands than ran.
    Since stop 53 a resume mid-cutover runs no prepare step skipped before it;
    every action of the resumed run is still one its plans showed."""
    from runbook.executor import Answer, Decision
    from runbook.journal_replay import replay

    journal = tmp_path / "run.jsonl"
    skipped = ("cloud-controller", "strip-autoscale", "carry-over")
    async with rehearsal_host(tmp_path) as host:
        first = ScriptedFrontEnd({**{step: Decision(Answer.SKIP, "later") for step in skipped},
                                  "stop-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal) is Outcome.STOPPED, first.text()[-3000:]
        before = len(journal.read_text().splitlines())
        second = ScriptedFrontEnd({"stop-service": Decision(Answer.STOP)})
        outcome = await rehearse(host, second, journal, resume=replay(journal))
        assert outcome is Outcome.STOPPED, second.text()[-3000:]
    # Since the cutover began, what was skipped before it stays skipped: not
    # asked again, nothing of it run on the half-changed host (stop 53). Were
    # one run, its plan would have to name the paths it uses (the check below).
    assert not set(skipped) & set(second.asked), second.asked
    for step in skipped:
        assert "red5pro-server-" not in "\n".join(
            a.render() for a in second.plans.get(step, [])), step
    later = tmp_path / "later.jsonl"
    later.write_text("\n".join(journal.read_text().splitlines()[before:]) + "\n")
    missing = unplanned(later, second.plans)
    assert missing == [], "\n".join(missing)


async def test_a_create_that_the_run_skips_when_it_exists_says_so_in_the_plan(
        tmp_path: Path) -> None:
    """Operator trial 53 (item 12): rollback-recreate's plan showed its launch
    config and scale policy POSTs as if each were sent; at run time they were
    skipped as "already exists". Each says when it is sent."""
    from runbook.model import ApiCall
    from tests.test_rollback import session

    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        front = ScriptedFrontEnd()
        outcome = await session(host, journal, rollback_after="recreate").run(front)
        assert outcome is Outcome.ROLLED_BACK, front.text()[-3000:]
    skipped = [line for line in front.text().splitlines() if "already exists" in line]
    assert skipped, "the way back finds the old database's launch configs in place"
    for step in ("recreate", "rollback-recreate"):
        creates = [a for a in front.plans[step] if isinstance(a, ApiCall)
                   and a.path.startswith("admin/configurations/")]
        assert creates, front.plans[step]
        for call in creates:
            assert "only if" in call.why and "absent" in call.why, (step, call)
