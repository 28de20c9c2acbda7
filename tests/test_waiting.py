"""The cutover's and the way back's waits: the limit the plan shows is the
most a wait takes, a slow look included."""

from __future__ import annotations

import asyncio

import pytest


class Looking:
    """What a wait asks of its step's context: somewhere to show its countdown."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def progress(self, done: float, total: float | None, label: str, *,
                 of_limit: bool = False) -> None:
        self.shown.append(label)


async def test_a_look_that_outlasts_the_limit_is_given_up_at_the_limit() -> None:
    """Review 61, F5: the forward waits compared the deadline only once a look
    returned, so one look that hung (a stream manager answering by drips; the
    client's timeout bounds each phase of an exchange only) held the wait past
    its limit, the countdown at "0s left". Each look is bounded by what is
    left of the limit now, as the way back bounds each exchange."""
    from steps.waiting import GaveUp, wait_until

    looks = 0

    async def hangs_on_the_second_look() -> bool:
        nonlocal looks
        looks += 1
        if looks == 2:
            await asyncio.Event().wait()  # never answers
        return False

    # The guard only keeps a failing run from hanging the suite.
    with pytest.raises(GaveUp) as gave_up:
        await asyncio.wait_for(
            wait_until(Looking(), "the API", 0.5, hangs_on_the_second_look),  # type: ignore[arg-type]
            timeout=20)
    assert "gave up after 0.5s waiting for the API" in str(gave_up.value)
    assert looks == 2
