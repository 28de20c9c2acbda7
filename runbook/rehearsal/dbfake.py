"""The rehearsal's two MySQL endpoints, as far as anyone can reach them.

The live database and the new one are loopback TCP listeners owned by the
rehearsal process. A connection gets one greeting line and is closed: enough
for the stream manager stand-in's reachability check (a TCP connect to
config.dbHost:config.dbPort) and for the runbook's check from the host
(bash's /dev/tcp). What the databases *hold* lives in
``runbook.rehearsal.cloud``, keyed by the same host and port.

The two get distinct loopback addresses with one port (127.0.0.2:P and
127.0.0.3:P), as two database servers on the standard port would look, so
only config.dbHost changes in the cutover. Where 127.0.0.2 cannot be bound
(loopback is only 127.0.0.1 on some systems) both live on 127.0.0.1 with
different ports instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from runbook.rehearsal import RehearsalError

log = logging.getLogger(__name__)

OLD_HOST = "127.0.0.2"
NEW_HOST = "127.0.0.3"
FALLBACK_HOST = "127.0.0.1"
_PORT_ATTEMPTS = 20


class DatabaseListener:
    """One fake database server endpoint."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.connections = 0  # how many times something knocked (for tests and reports)
        self._server: asyncio.Server | None = None
        self.address: tuple[str, int] = ("", 0)

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._greet, host, port)
        sockname = self._server.sockets[0].getsockname()
        self.address = (sockname[0], sockname[1])

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            writer.write(f"8.0.36 MySQL Community Server (rehearsal, {self.label} database)\n"
                         .encode())
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


class DatabaseListeners:
    """The live (old) and the new database endpoint together."""

    def __init__(self) -> None:
        self.old = DatabaseListener("live")
        self.new = DatabaseListener("new")

    async def start(
        self, old: tuple[str, int] | None = None, new: tuple[str, int] | None = None
    ) -> None:
        """Bind the remembered addresses, or choose fresh ones when there are none.

        Remembered addresses are not negotiable: the live install's
        red5-web.properties and the fake cloud's databases name them.
        """
        try:
            if old is not None and new is not None:
                await self._bind_exact(old, new)
            else:
                await self._bind_fresh()
        except BaseException:
            await self.close()
            raise

    async def _bind_exact(self, old: tuple[str, int], new: tuple[str, int]) -> None:
        for listener, address in ((self.old, old), (self.new, new)):
            try:
                await listener.start(*address)
            except OSError as exc:
                raise RehearsalError(
                    f"cannot listen as the {listener.label} database on {address[0]}:{address[1]}"
                    f" ({exc.strerror or exc}); is another rehearsal using this sandbox?"
                ) from exc

    async def _bind_fresh(self) -> None:
        # Same port on two addresses: take a free port on the first, then hope
        # the second has it free too; retry with another port if not.
        for _ in range(_PORT_ATTEMPTS):
            try:
                await self.old.start(OLD_HOST, 0)
            except OSError as exc:
                log.info("cannot bind %s (%s); using %s", OLD_HOST, exc, FALLBACK_HOST)
                break
            try:
                await self.new.start(NEW_HOST, self.old.address[1])
                return
            except OSError:
                await self.old.close()
        else:
            raise RehearsalError("found no port free on both 127.0.0.2 and 127.0.0.3")
        await self.old.start(FALLBACK_HOST, 0)
        await self.new.start(FALLBACK_HOST, 0)

    async def close(self) -> None:
        await self.old.close()
        await self.new.close()
