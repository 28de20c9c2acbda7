"""A stand-in MySQL server for rehearsal hosts without MariaDB.

It keeps what the runbook and the stream manager can observe of a database
server, and enforces the same rules on it: accounts with passwords, grants
per database, which databases exist and which tables each holds. It knows
the statements the runbook sends and those a phpMyAdmin dump such as Red5
Pro's cluster.sql is made of (SET, CREATE TABLE, INSERT, ALTER TABLE, ...):
a CREATE TABLE of a table that exists fails with ERROR 1050, as on a real
server, and stops an import there. Rows are counted, not kept: INSERT adds
its VALUES, DELETE FROM a whole table empties it, and SELECT COUNT(*) says
how many a table holds. A statement it does not model (a DELETE with a
WHERE, say) is refused with ERROR 1064 and says so.

One server is an asyncio TCP listener in the rehearsal's process with its
state in a JSON file (owner-only), written after every change, so a kept
sandbox keeps its databases. Clients speak ``runbook.rehearsal.mysqlclient``'s
line protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runbook.rehearsal.mysqlclient import GREETING, Result, SqlError, split_statements

log = logging.getLogger(__name__)

STATE_FORMAT = 1
SERVER_VERSION = "10.11.6-MariaDB (rehearsal stand-in)"
# What a real server allows for the first packet (connect_timeout).
HANDSHAKE_TIMEOUT_S = 10.0
REQUEST_LIMIT = 64 << 20  # max_allowed_packet
INFORMATION_SCHEMA = "information_schema"
# What a server allows until someone sets it: MariaDB's and MySQL's default
# (their server system variable pages give 151).
DEFAULT_MAX_CONNECTIONS = 151
CLIENT_HOST = "localhost"  # a loopback client, as MariaDB names it

_IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"


def _unquote(identifier: str) -> str:
    identifier = identifier.strip()
    if identifier.startswith("`") and identifier.endswith("`"):
        return identifier[1:-1].replace("``", "`")
    return identifier


def _split_qualified(name: str) -> tuple[str | None, str]:
    parts = re.findall(_IDENT, name)
    if len(parts) == 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return None, _unquote(parts[0])


def _like(pattern: str, value: str) -> bool:
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def value_rows(values: str) -> int:
    """How many rows the VALUES list of an INSERT holds: its tuples at the top
    level, read past quoted strings (with their backslash and doubled-quote
    escapes), as the server parses them."""
    rows = depth = 0
    quote: str | None = None
    chars = iter(values)
    for ch in chars:
        if quote is not None:
            if ch == "\\":
                next(chars, None)
            elif ch == quote:
                quote = None  # a doubled quote closes, then opens again
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            rows += depth == 0
            depth += 1
        elif ch == ")":
            depth -= 1
    return rows


def _hash(salt: str, password: str) -> str:
    return hashlib.sha256((salt + "\0" + password).encode("utf-8")).hexdigest()


class ServerState:
    """The accounts and databases of one stand-in server, saved as JSON."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def create(cls, path: Path) -> ServerState:
        state = cls(path, {"format": STATE_FORMAT, "accounts": {}, "databases": {}})
        state.save()
        return state

    @classmethod
    def load(cls, path: Path) -> ServerState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the stand-in database state {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a stand-in database state this runbook can read")
        return cls(path, data)

    def save(self) -> None:
        # Replaced in one step, owner-only from birth: it holds password hashes.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        tmp.replace(self.path)

    @property
    def max_connections(self) -> int:
        return int(self.data.get("max_connections", DEFAULT_MAX_CONNECTIONS))

    @max_connections.setter
    def max_connections(self, count: int) -> None:
        self.data["max_connections"] = count

    # --- accounts --------------------------------------------------------------------

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.data["accounts"]
        return found

    @property
    def databases(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.data["databases"]
        return found

    def create_user(self, user: str, password: str, grants: Iterable[str]) -> None:
        """CREATE USER 'user'@'%' IDENTIFIED BY ...; GRANT ALL ON db.* for each grant."""
        salt = secrets.token_hex(8)
        self.accounts[user] = {"salt": salt, "hash": _hash(salt, password),
                               "grants": sorted(set(grants))}

    def authenticate(self, user: str, password: str | None) -> bool:
        account = self.accounts.get(user)
        if account is None:
            return False
        given = _hash(account["salt"], password or "")
        return hmac.compare_digest(given, account["hash"]) and password is not None

    def tables(self, database: str) -> list[str]:
        return sorted(self.databases.get(database, {}).get("tables", []))


class Session:
    """One client's view: who it is and which database it uses."""

    def __init__(self, state: ServerState, user: str, *, admin: bool = False) -> None:
        self.state = state
        self.user = user
        self.admin = admin
        self.database: str | None = None
        self.changed = False

    # --- privileges ------------------------------------------------------------------

    def _may(self, database: str) -> bool:
        if self.admin or database.lower() == INFORMATION_SCHEMA:
            return True
        grants = self.state.accounts.get(self.user, {}).get("grants", [])
        return database in grants

    def _denied(self, database: str) -> SqlError:
        return SqlError(1044, "42000",
                        f"Access denied for user '{self.user}'@'%' to database '{database}'")

    def use(self, database: str) -> None:
        if not self._may(database):
            raise self._denied(database)
        if database not in self.state.databases and database.lower() != INFORMATION_SCHEMA:
            raise SqlError(1049, "42000", f"Unknown database '{database}'")
        self.database = database

    def _table(self, name: str) -> tuple[str, str]:
        schema, table = _split_qualified(name)
        schema = schema or self.database
        if schema is None:
            raise SqlError(1046, "3D000", "No database selected")
        if not self._may(schema):
            raise SqlError(1142, "42000", f"command denied to user '{self.user}'@'{CLIENT_HOST}'"
                           f" for table `{schema}`.`{table}`")
        if schema not in self.state.databases:
            raise SqlError(1049, "42000", f"Unknown database '{schema}'")
        return schema, table

    def _existing(self, name: str) -> tuple[str, str]:
        schema, table = self._table(name)
        if table not in self.state.databases[schema]["tables"]:
            raise SqlError(1146, "42S02", f"Table '{schema}.{table}' doesn't exist")
        return schema, table

    # --- statements ------------------------------------------------------------------

    def execute(self, sql: str) -> Result:
        """Run one statement; SqlError as the server answers one it refuses."""
        # Executable comments hold SQL the server runs (all versions qualify).
        text = re.sub(r"/\*M?!\d*\s?(.*?)\*/", r"\1", sql, flags=re.S).strip()
        for pattern, handler in self._handlers():
            match = re.fullmatch(pattern, text, re.IGNORECASE | re.DOTALL)
            if match is not None:
                return handler(match)
        if not text:
            raise SqlError(1065, "42000", "Query was empty")
        shown = " ".join(text.split())[:80]
        raise SqlError(1064, "42000",
                       "The rehearsal's stand-in database does not understand this statement "
                       f"(it knows what the runbook and cluster.sql send): near '{shown}'")

    def _handlers(self) -> list[tuple[str, Callable[[re.Match[str]], Result]]]:
        return [
            (r"SET\s+.*", self._ok),
            (r"(?:START\s+TRANSACTION|BEGIN|COMMIT|ROLLBACK|UNLOCK\s+TABLES|LOCK\s+TABLES\s+.*)",
             self._ok),
            (rf"USE\s+({_IDENT})", self._use),
            (rf"CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?({_IDENT})(?:\s+.*)?",
             self._create_database),
            (rf"DROP\s+(?:DATABASE|SCHEMA)\s+(IF\s+EXISTS\s+)?({_IDENT})", self._drop_database),
            (rf"CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?({_QUALIFIED})\s*\(.*",
             self._create_table),
            (rf"DROP\s+TABLE\s+(IF\s+EXISTS\s+)?({_QUALIFIED}(?:\s*,\s*{_QUALIFIED})*)",
             self._drop_table),
            (rf"(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?(?:INTO\s+)?({_QUALIFIED})\s*"
             r"(?:\([^()]*\)\s*)?VALUES?\s*(\(.*)", self._insert),
            (rf"DELETE\s+FROM\s+({_QUALIFIED})", self._delete_all),
            (rf"SELECT\s+(COUNT\(\s*\*\s*\))\s+FROM\s+({_QUALIFIED})", self._count_rows),
            (rf"ALTER\s+TABLE\s+({_QUALIFIED})\s.*", self._touch),
            (r"SELECT\s+1", lambda m: Result(["1"], [["1"]])),
            (r"SELECT\s+(DATABASE\(\s*\))", lambda m: Result([m[1]], [[self.database]])),
            (r"SELECT\s+(CURRENT_USER(?:\(\s*\))?)",
             lambda m: Result([m[1]], [[f"{self.user}@%"]])),
            (r"SELECT\s+(VERSION\(\s*\))", lambda m: Result([m[1]], [[SERVER_VERSION]])),
            (r"SELECT\s+(@@(?:GLOBAL\.)?max_connections)",
             lambda m: Result([m[1]], [[str(self.state.max_connections)]])),
            (r"SELECT\s+(COUNT\(\s*\*\s*\))\s+FROM\s+information_schema\s*\.\s*tables\s+"
             r"WHERE\s+table_schema\s*=\s*'([^']*)'", self._count_tables),
            (r"SELECT\s+(table_name)\s+FROM\s+information_schema\s*\.\s*tables\s+"
             r"WHERE\s+table_schema\s*=\s*'([^']*)'", self._list_tables),
            (r"SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+LIKE\s+'([^']*)')?", self._show_databases),
            (rf"SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+({_IDENT}))?", self._show_tables),
        ]

    @staticmethod
    def _ok(match: re.Match[str]) -> Result:
        return Result()

    def _use(self, match: re.Match[str]) -> Result:
        self.use(_unquote(match[1]))
        return Result()

    def _create_database(self, match: re.Match[str]) -> Result:
        name = _unquote(match[2])
        if not self._may(name) or name.lower() == INFORMATION_SCHEMA:
            raise self._denied(name)
        if name in self.state.databases:
            message = f"Can't create database '{name}'; database exists"
            if match[1]:
                return Result(notes=[("Note", 1007, message)])
            raise SqlError(1007, "HY000", message)
        self.state.databases[name] = {"tables": []}
        self.changed = True
        return Result()

    def _drop_database(self, match: re.Match[str]) -> Result:
        name = _unquote(match[2])
        if not self._may(name):
            raise self._denied(name)
        if name not in self.state.databases:
            message = f"Can't drop database '{name}'; database doesn't exist"
            if match[1]:
                return Result(notes=[("Note", 1008, message)])
            raise SqlError(1008, "HY000", message)
        del self.state.databases[name]
        if self.database == name:
            self.database = None
        self.changed = True
        return Result()

    def _create_table(self, match: re.Match[str]) -> Result:
        schema, table = self._table(match[2])
        tables: list[str] = self.state.databases[schema]["tables"]
        if table in tables:
            message = f"Table '{table}' already exists"
            if match[1]:
                return Result(notes=[("Note", 1050, message)])
            raise SqlError(1050, "42S01", message)
        tables.append(table)
        self.changed = True
        return Result()

    def _drop_table(self, match: re.Match[str]) -> Result:
        names = [self._table(part) for part in re.findall(_QUALIFIED, match[2])]
        missing = [f"{s}.{t}" for s, t in names if t not in self.state.databases[s]["tables"]]
        if missing and not match[1]:
            raise SqlError(1051, "42S02", f"Unknown table '{','.join(missing)}'")
        for schema, table in names:
            with contextlib.suppress(ValueError):
                self.state.databases[schema]["tables"].remove(table)
                self._rows(schema).pop(table, None)
                self.changed = True
        return Result(notes=[("Note", 1051, f"Unknown table '{m}'") for m in missing])

    def _touch(self, match: re.Match[str]) -> Result:
        # Indexes and keys are not kept: the table only has to be there.
        self._existing(match[1])
        return Result()

    def _rows(self, schema: str) -> dict[str, int]:
        rows: dict[str, int] = self.state.databases[schema].setdefault("rows", {})
        return rows

    def _insert(self, match: re.Match[str]) -> Result:
        schema, table = self._existing(match[1])
        added = value_rows(match[2])
        if added:
            rows = self._rows(schema)
            rows[table] = rows.get(table, 0) + added
            self.changed = True
        return Result()

    def _delete_all(self, match: re.Match[str]) -> Result:
        schema, table = self._existing(match[1])
        if self._rows(schema).pop(table, 0):
            self.changed = True
        return Result()

    def _count_rows(self, match: re.Match[str]) -> Result:
        schema, table = self._existing(match[2])
        return Result([match[1]], [[str(self._rows(schema).get(table, 0))]])

    def _visible_tables(self, schema: str) -> list[str]:
        return self.state.tables(schema) if self._may(schema) else []

    def _count_tables(self, match: re.Match[str]) -> Result:
        return Result([match[1]], [[str(len(self._visible_tables(match[2])))]])

    def _list_tables(self, match: re.Match[str]) -> Result:
        return Result([match[1]], [[name] for name in self._visible_tables(match[2])])

    def _show_databases(self, match: re.Match[str]) -> Result:
        names = [INFORMATION_SCHEMA] + [d for d in self.state.databases if self._may(d)]
        if match[1] is not None:
            names = [n for n in names if _like(match[1], n)]
            return Result([f"Database ({match[1]})"], [[n] for n in sorted(names)])
        return Result(["Database"], [[n] for n in sorted(names)])

    def _show_tables(self, match: re.Match[str]) -> Result:
        # SHOW TABLES FROM db asks of that database, whichever is in use.
        database = _unquote(match[1]) if match[1] is not None else self.database
        if database is None:
            raise SqlError(1046, "3D000", "No database selected")
        if not self._may(database):
            raise self._denied(database)
        if database not in self.state.databases:
            raise SqlError(1049, "42000", f"Unknown database '{database}'")
        return Result([f"Tables_in_{database}"], [[t] for t in self.state.tables(database)])


def run_script(session: Session, text: str) -> None:
    """Run SQL text statement by statement, stopping at the first error (an import)."""
    for at, sql in split_statements(text):
        try:
            session.execute(sql)
        except SqlError as exc:
            raise SqlError(exc.code, exc.state, f"{exc.message} (at line {at})") from None


class StandInServer:
    """One stand-in database server: a TCP listener over a ServerState file."""

    def __init__(self, label: str, state_path: Path) -> None:
        self.label = label
        self.state_path = state_path
        self.connections = 0  # how many clients knocked (for tests and reports)
        self.address: tuple[str, int] = ("", 0)
        self._server: asyncio.Server | None = None
        self._state: ServerState | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> ServerState:
        if self._state is None:
            self._state = ServerState.load(self.state_path)
        return self._state

    async def start(self, host: str, port: int) -> None:
        self._state = ServerState.load(self.state_path)
        self._server = await asyncio.start_server(self._serve, host, port, limit=REQUEST_LIMIT)
        sockname = self._server.sockets[0].getsockname()
        self.address = (sockname[0], sockname[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            writer.write(f"{GREETING} {SERVER_VERSION} ({self.label} database)\n".encode())
            await writer.drain()
            session: Session | None = None
            while True:
                timeout = HANDSHAKE_TIMEOUT_S if session is None else None
                raw = await asyncio.wait_for(reader.readline(), timeout)
                if not raw:
                    return
                request = json.loads(raw)
                if not isinstance(request, dict) or request.get("op") == "quit":
                    return
                try:
                    if session is None:
                        session = self._login(request)
                        answer: dict[str, Any] = {"ok": True}
                    elif request.get("op") == "query":
                        answer = self._query(session, str(request.get("sql", "")))
                    else:
                        return
                except SqlError as exc:
                    answer = {"error": exc.to_json()}
                writer.write(json.dumps(answer).encode("utf-8") + b"\n")
                await writer.drain()
        except (ConnectionError, TimeoutError, json.JSONDecodeError, ValueError,
                asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _login(self, request: dict[str, Any]) -> Session:
        if request.get("op") != "login":
            raise SqlError(1043, "08S01", "Bad handshake")
        user = str(request.get("user") or "")
        password = request.get("password")
        if not self.state.authenticate(user, None if password is None else str(password)):
            using = "YES" if password else "NO"
            raise SqlError(1045, "28000",
                           f"Access denied for user '{user}'@'{CLIENT_HOST}' (using password: "
                           f"{using})")
        session = Session(self.state, user)
        database = request.get("database")
        if database:
            session.use(str(database))
        return session

    def _query(self, session: Session, sql: str) -> dict[str, Any]:
        session.changed = False
        try:
            result = session.execute(sql)
        finally:
            if session.changed:
                self.state.save()
        return result.to_json()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await self._server.wait_closed()
            self._server = None


def provision(state_path: Path, *, account: tuple[str, str], schema: str | None) -> None:
    """A new stand-in server: the account granted on `cluster`.*, and the
    `cluster` database with ``schema`` (cluster.sql text) imported when given."""
    state = ServerState.create(state_path)
    user, password = account
    state.create_user(user, password, ["cluster"])
    if schema is not None:
        admin = Session(state, "root", admin=True)
        admin.execute("CREATE DATABASE cluster")
        admin.use("cluster")
        run_script(admin, schema)
    state.save()
