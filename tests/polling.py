"""Waiting for a condition instead of sleeping a fixed time and hoping.

The machines that run these tests are shared and slow at times: a test that
sleeps 0.2 s "so the process has started" fails the day it needs 0.3 s. A test
waits for what it needs instead, with a deadline far above any normal wait
that only ends a test that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

# Generous on purpose: reaching it means something is broken, not slow.
DEADLINE_S = 30.0


async def until(
    condition: Callable[[], Any],
    timeout: float = DEADLINE_S,
    what: str = "the condition",
    *,
    interval: float = 0.02,
) -> Any:
    """Poll ``condition`` (plain or async) until it is truthy; return its value.

    Fails with "timed out ... waiting for <what>" after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)
