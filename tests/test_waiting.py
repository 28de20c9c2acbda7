"""The cutover's and the way back's waits: the limit the plan shows is the
most a wait takes, a slow look included."""

from __future__ import annotations

import asyncio

import pytest


class Looking:
    """What a wait asks of its step's context: somewhere to show its countdown."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.said: list[str] = []

    def info(self, line: str) -> None:
        self.said.append(line)

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


async def test_a_timeout_error_raised_inside_a_look_is_the_looks_own() -> None:
    """Review 61b, F9: a TimeoutError raised by a look itself (a probe's own
    timeout) was taken for the wait's limit: the wait gave up at once, long
    before that limit, saying its last look "did not end in time". It is
    the look's error, raised as any other of a look's."""
    from steps.waiting import wait_until

    async def times_out_itself() -> bool:
        raise TimeoutError("the look's own")

    with pytest.raises(TimeoutError, match="the look's own"):
        await asyncio.wait_for(
            wait_until(Looking(), "the API", 60, times_out_itself),  # type: ignore[arg-type]
            timeout=20)


async def test_a_group_moved_out_of_the_wait_is_counted_out_of_its_total() -> None:
    """Review 61b, F9: the way back's listing moves a group whose DELETE did
    not take out of those waited on (`of`), but "N of M nodegroups" kept
    counting it in M."""
    from steps.waiting import wait_until_gone

    sent = {"ng-a", "ng-b", "ng-c"}
    looks = 0

    async def listing() -> list[dict[str, str]]:
        nonlocal looks
        looks += 1
        if looks == 1:
            sent.discard("ng-c")  # standing after a refused DELETE: left, not waited on
            return [{"name": "ng-a"}, {"name": "ng-c"}]
        return []

    looking = Looking()
    await asyncio.wait_for(
        wait_until_gone(looking, listing, 30, of=sent),  # type: ignore[arg-type]
        timeout=20)
    assert looking.said == ["1 of 2 nodegroups still there: ng-a"], looking.said
    assert looking.shown and "1 of 2 nodegroups" in looking.shown[0], looking.shown
