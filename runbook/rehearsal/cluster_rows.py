"""The fake stream manager's rows in its own cluster database.

A real stream manager keeps its nodegroups, launch configs and scale policies
in the `cluster` tables node_group, launch_configs and scale_policies (the
cluster.sql files both releases ship). The rehearsal's cloud keeps them in its
state file, which is what its API answers from; this module writes them into
the database the stream manager runs on as well, so that what the runbook can
see there with SQL is what production would show: the way back, for one,
leaves the new database holding the first attempt's nodegroups.

Which rows exist is the fact carried over; what their columns hold (regions and
a config's data as JSON, times in milliseconds) is inferred (data README).

Writes happen on a worker thread, the newest rows only, so an API answer never
waits on the database: with a real MariaDB each write starts a mysql client.
``close`` waits for the last write, as the service does before it exits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from runbook.rehearsal import cloud, databases

log = logging.getLogger(__name__)

# The tables, in the order their keys allow them to be emptied.
TABLES = ("node_group", "launch_configs", "scale_policies")


class Rows(NamedTuple):
    """What one database's three tables hold, in a form that compares."""

    nodegroups: tuple[tuple[int, str, str, str, str, int], ...]
    launch_configs: tuple[tuple[str, str], ...]
    scale_policies: tuple[tuple[str, str], ...]


def rows_of(db: cloud.Database) -> Rows:
    def named(store: dict[str, dict[str, Any]]) -> tuple[tuple[str, str], ...]:
        return tuple((name, json.dumps(store[name], sort_keys=True)) for name in sorted(store))

    groups = sorted(db["nodegroups"].values(), key=lambda group: int(group["id"]))
    return Rows(
        tuple((int(g["id"]), str(g["name"]), json.dumps(g.get("regions", [])),
               str(g["launchConfig"]), str(g["scalePolicy"]), int(g.get("timestamp", -1)))
              for g in groups),
        named(db["launchconfigs"]),
        named(db["scalepolicies"]),
    )


def _text(value: str) -> str:
    # MariaDB's default sql_mode reads backslash escapes in a quoted string.
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _values(rows: list[tuple[object, ...]]) -> str:
    return ", ".join(
        "(" + ", ".join(_text(v) if isinstance(v, str) else str(v) for v in row) + ")"
        for row in rows)


def script(rows: Rows, now_ms: int) -> str:
    """The statements that leave the three tables holding `rows`: node_group
    emptied first and filled last, as its keys name the other two."""
    statements = ["START TRANSACTION", *(f"DELETE FROM {table}" for table in TABLES)]
    for table, named in (("launch_configs", rows.launch_configs),
                         ("scale_policies", rows.scale_policies)):
        if named:
            statements.append(
                f"INSERT INTO {table} (id, name, data, updated) VALUES "
                + _values([(i, name, data, now_ms) for i, (name, data) in enumerate(named, 1)]))
    if rows.nodegroups:
        statements.append(
            "INSERT INTO node_group (id, name, originConnections, regions, launch_config, "
            "scale_policy, created, updated) VALUES "
            + _values([(gid, name, 0, regions, lc, sp, created, now_ms)
                       for gid, name, regions, lc, sp, created in rows.nodegroups]))
    statements.append("COMMIT")
    return ";\n".join(statements) + ";\n"


def write_now(sandbox: Path, host: str, port: int, user: str, password: str,
              timeout: float) -> None:
    """Have the tables of the database at host:port hold what the cloud keeps
    for it now (the rehearsal's seeded fleet, say), before the call returns."""
    with cloud.locked_state(sandbox) as state:
        db = state.database(host, port)
        db["mirrored"] = True
        databases.run_in_cluster(host, port, user, password,
                                 script(rows_of(db), cloud.now_ms()), timeout)


def held(host: str, port: int, user: str, password: str, timeout: float) -> int:
    """How many rows the three tables hold in the database at host:port."""
    return sum(databases.count_in_cluster(host, port, user, password,
                                          f"SELECT COUNT(*) FROM {table}", timeout)
               for table in TABLES)


class Mirror:
    """Keeps one database's tables in step with the rows last offered."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._offered: Rows | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cluster-rows")

    def offer(self, rows: Rows) -> None:
        """Have the tables hold `rows` soon; nothing to do if they already will."""
        if rows == self._offered:
            return
        self._offered = rows
        self._worker.submit(self._store, rows)

    def _store(self, rows: Rows) -> None:
        if rows is not self._offered:
            return  # newer rows wait behind this write; they are the ones to write
        try:
            self._write(script(rows, cloud.now_ms()))
        except Exception as exc:
            log.error("Writing the nodegroups into the cluster database failed: %s", exc)

    def close(self) -> None:
        """Wait for the last write (bounded by the client's own timeout)."""
        self._worker.shutdown(wait=True)
