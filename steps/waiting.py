"""Waiting for the host or a stream manager, with a visible countdown: the
cutover's waits and the way back's, one helper for both (review 61, F7)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from runbook.step import StepFailed
from steps.facts import Ctx

# Often enough that a waiting operator sees progress promptly, rarely enough
# to be nothing to the stream manager.
POLL_S = 0.5
# Everything a wait overshoots is downtime: a short wait is looked at more
# often, so the overshoot stays within a fortieth of what was waited anyway
# (a 3 s boot in a rehearsal, 75 ms; from 20 s on, a real boot's half second).
# Each look is a few small requests, nothing to a stream manager that serves
# no one in the downtime.
_FIRST_POLL_S = 0.025
# What a look may take past the limit before the wait gives up on it: one
# that began just before the limit is let finish its requests.
LOOK_GRACE_S = 5.0


def next_look(waited: float) -> float:
    """Seconds until the next look, after `waited` seconds of waiting."""
    return min(POLL_S, max(_FIRST_POLL_S, waited / 40))


class GaveUp(StepFailed):
    """The limit of a wait passed before what it waited for came."""


async def wait_until(ctx: Ctx, what: str | Callable[[], str], timeout: float,
                     probe: Callable[[], Awaitable[Any]]) -> Any:
    """Poll `probe` until it returns something truthy, with a visible countdown;
    GaveUp when `timeout` passes first. `what` may be worked out after each
    probe (how many are left, say). Each look is bounded too, by what is left
    of the limit (and LOOK_GRACE_S): a stream manager that answers by drips
    held a look, and the wait, past its limit (review 61, F5)."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        bound = asyncio.timeout(max(0.0, deadline - time.monotonic()) + LOOK_GRACE_S)
        try:
            async with bound:
                result = await probe()
        except TimeoutError:
            if not bound.expired():
                # The look's own (a probe's timeout), not this wait's limit:
                # raised as any other error of a look (review 61b, F9).
                raise
            result = None
            cut = True
        else:
            cut = False
        if result:
            return result
        waited_for = what() if callable(what) else what
        left = deadline - time.monotonic()
        if left <= 0 or cut:
            said = "; its last look did not end in time" if cut else ""
            raise GaveUp(f"gave up after {timeout:g}s waiting for {waited_for}{said}")
        ctx.progress(timeout - left, timeout, f"waiting for {waited_for}: {left:.0f}s left",
                     of_limit=True)
        await asyncio.sleep(min(next_look(time.monotonic() - started), left))


async def wait_until_gone(ctx: Ctx, listing: Callable[[], Awaitable[list[dict[str, Any]]]],
                          limit: float, *, of: Collection[str] | None = None,
                          still: list[str] | None = None) -> None:
    """Wait until the nodegroups `of` (None: every one listed) are listed no
    more: the cloud takes them down one by one, so how many are still there
    is what the operator waits on, more than the seconds. `still`, where
    given, is kept to those still there, for the caller's word if it gives
    up; with `of` None, it holds those there as the wait begins. The
    cutover's wait and the way back's (review 61, F7: two copies)."""
    waiting = still if still is not None else []
    if of is not None:
        waiting[:] = sorted(of)
    first = len(waiting)

    def total() -> int:
        # `of` as it is now: the way back's listing takes out a group it
        # leaves (its DELETE did not take), which is no longer waited on
        # (review 61b, F9: it stayed in the count).
        return len(of) if of is not None else first

    async def gone() -> bool:
        listed = sorted(str(group["name"]) for group in await listing())
        now = [name for name in listed if of is None or name in of]
        if now and now != waiting:
            ctx.info(f"{len(now)} of {total()} nodegroups still there: {', '.join(now)}")
        waiting[:] = now
        return not now

    await wait_until(ctx, lambda: f"{len(waiting)} of {total()} nodegroups to be gone",
                     limit, gone)
