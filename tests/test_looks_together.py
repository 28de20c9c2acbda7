"""Looks a step asks at once end with the step.

Steps ask several read-only looks together, each a round trip in the
downtime (issue 12). A bare `asyncio.gather` raises the first failure at
once and leaves the other looks running past the step's end: into the
operator's question, where a link lost under them says 'looking again once
reconnected' as the failed step's, and into whatever the operator chooses
next (review R2, found at start-service first). Every such place now waits
for all its looks and raises the first failure in the order they are asked.

Only the round trip's length is stood in for (a slow link), and the failing
look fails only while the slow one is under way, so the failure is the one
met in the looks asked together: the looks themselves are the steps' own.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import pytest

from runbook.executor import Outcome
from runbook.model import StepReport
from runbook.step import StepFailed
from tests.rehearsal import rehearsal_host, rehearse
from tests.scripted import ScriptedFrontEnd

STEPS = Path(__file__).resolve().parents[1] / "steps"

# (module, the look made slow, the look that fails beside it): one per place
# a step asks looks together and either may fail.
PLACES = {
    "promote's check": ("steps.cutover", "server_folders", "folder_id"),
    "stop-service's listing": ("steps.cutover", "old_tree", "java_processes"),
    "service-unit's check": ("steps.cutover", "exists", "unit_not_loaded"),
    "the serving proof": ("steps.start_service", "folder_id", "servers_of"),
    "the fleet's look": ("runbook.smapi", "StreamManagerAPI.list_launchconfigs",
                         "StreamManagerAPI.list_scalepolicies"),
}


def _owner(module: str, name: str) -> tuple[Any, str]:
    import importlib

    owner: Any = importlib.import_module(module)
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


@pytest.mark.parametrize("place", list(PLACES))
async def test_a_failed_look_is_raised_once_the_looks_beside_it_have_ended(
        place: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, slow_name, failing_name = PLACES[place]
    slow_owner, slow_attr = _owner(module, slow_name)
    failing_owner, failing_attr = _owner(module, failing_name)
    slow, failing = getattr(slow_owner, slow_attr), getattr(failing_owner, failing_attr)
    under_way: list[bool] = [False]
    failed: list[str] = []

    async def over_a_slow_link(*args: Any, **kwargs: Any) -> Any:
        under_way.append(True)
        try:
            await asyncio.sleep(2)
            return await slow(*args, **kwargs)
        finally:
            under_way.append(False)

    async def failing_beside_it(*args: Any, **kwargs: Any) -> Any:
        # Let the looks asked with this one begin first.
        await asyncio.sleep(0.05)
        if under_way[-1]:
            failed.append(place)
            raise StepFailed(f"{failing_name} was cut off")
        return await failing(*args, **kwargs)

    monkeypatch.setattr(slow_owner, slow_attr, over_a_slow_link)
    monkeypatch.setattr(failing_owner, failing_attr, failing_beside_it)
    at_question: list[bool] = []

    class Asked(ScriptedFrontEnd):
        async def recover(self, step: StepReport, *, can_roll_back: bool) -> Any:
            at_question.append(under_way[-1])
            return await super().recover(step, can_roll_back=can_roll_back)

    front = Asked()
    async with rehearsal_host(tmp_path) as host:
        outcome = await rehearse(host, front, tmp_path / "run.jsonl")
    assert failed, f"the run never asked {place}'s looks together: {front.text()[-2000:]}"
    assert outcome is Outcome.FAILED, front.text()[-2000:]
    assert f"{failing_name} was cut off" in front.text(), front.text()[-2000:]
    assert at_question, "the operator was never asked what to do after the failure"
    assert at_question[0] is False, f"a look of {place} still ran as the operator was asked"


def test_no_step_asks_looks_together_with_a_bare_gather() -> None:
    """The guard for places asked later: steps ask looks at once through
    steps.common.together, which keeps the behaviour above. A gather by any
    name counts unless it returns its failures (review 65: `from asyncio
    import gather`, or return_exceptions=False, slipped past the first guard)."""
    bare = []
    for source in sorted(STEPS.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if not isinstance(node, ast.Call):
                continue
            name = (node.func.attr if isinstance(node.func, ast.Attribute)
                    else node.func.id if isinstance(node.func, ast.Name) else None)
            returns_failures = any(
                k.arg == "return_exceptions" and isinstance(k.value, ast.Constant)
                and k.value.value is True for k in node.keywords)
            if name == "gather" and not returns_failures:
                bare.append(f"{source.name}:{node.lineno}")
    assert not bare, f"looks asked with a bare gather: {', '.join(bare)}"


async def test_of_two_failed_looks_the_one_asked_first_is_raised() -> None:
    """As the looks would have failed one after the other: the first asked
    decides what the operator reads, whichever failed first in time."""
    from steps.common import together

    async def fails(after: float, said: str) -> None:
        await asyncio.sleep(after)
        raise StepFailed(said)

    with pytest.raises(StepFailed, match="asked first"):
        await together(fails(0.2, "asked first"), fails(0.0, "asked second"))


async def test_an_abort_stops_every_look_before_it_is_raised() -> None:
    from steps.common import together

    ended: list[str] = []

    async def look(name: str) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            ended.append(name)

    step = asyncio.ensure_future(together(look("one"), look("two")))
    await asyncio.sleep(0.05)
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    assert sorted(ended) == ["one", "two"]


async def test_a_look_cancelled_by_itself_fails_the_step_not_the_run() -> None:
    """Review 65: a look that ends cancelled while nobody cancelled the step
    was raised as the step's own cancellation, which the executor reads as
    the run being stopped (runbook quitting). It is a failed look: the step
    fails, and the operator is asked what to do."""
    from steps.common import together

    async def cut_short() -> None:
        raise asyncio.CancelledError

    async def fine() -> int:
        return 1

    with pytest.raises(StepFailed, match="cancelled"):
        await together(fine(), cut_short())
