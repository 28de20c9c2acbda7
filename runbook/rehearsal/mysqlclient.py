"""The `mysql` client of a rehearsal host without MariaDB, and what it shares.

Where no MariaDB is installed, the rehearsal's databases are stand-in servers
(``runbook.rehearsal.mysqlfake``) and the sandbox's ``mysql`` and ``mariadb``
shims run this module. It answers the runbook's commands the way MariaDB
10.11's client does: the same options (``--defaults-extra-file`` first, an
option file with a quoted password), the same output (``-N -B``: tab
separated, no header), the same ERROR lines and exit codes:

    1045 wrong password, 1044 no grant on a database, 1049 unknown database,
    1050 table exists (an import stops there), 1007 database exists,
    2002 refused or unreachable, 2005 bad host name, 2013 a peer that never
    greets within --connect-timeout.

It talks to the stand-in over TCP with a line protocol of its own (a greeting
line, then one JSON request and one JSON answer per line), so a connection
is refused, times out or is accepted exactly where a real one would be. It
cannot talk to a real MySQL server, and says so. The fake stream manager
(``runbook.rehearsal.service``) uses the same client code to log in.

Passwords only ever come from option files (or stdin-free defaults): there is
no prompt, and none goes on a command line.
"""

from __future__ import annotations

import getpass
import io
import json
import os
import socket
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GREETING = "RUNBOOK-REHEARSAL-MYSQL/1"
HANDSHAKE = "handshake: reading initial communication packet"
# Groups of an option file the mysql client reads.
CLIENT_GROUPS = ("client", "client-server", "client-mariadb", "mysql", "mariadb-client")
EXIT_UNKNOWN_OPTION = 2
EXIT_UNKNOWN_VARIABLE = 7
# Refused connections read "(115)" with MariaDB's client (its connect is
# non-blocking), a timed-out one "(110)".
_EINPROGRESS = 115
_ETIMEDOUT = 110
_EAGAIN = 11


class SqlError(Exception):
    """An error as the server or the client library reports it."""

    def __init__(self, code: int, state: str, message: str) -> None:
        super().__init__(f"ERROR {code} ({state}): {message}")
        self.code = code
        self.state = state
        self.message = message

    def line(self, at: int | None = None) -> str:
        where = f" at line {at}" if at is not None else ""
        return f"ERROR {self.code} ({self.state}){where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "state": self.state, "message": self.message}

    @classmethod
    def from_json(cls, data: Any) -> SqlError:
        if not isinstance(data, dict):
            return lost("reading the answer")
        return cls(int(data.get("code", 2027)), str(data.get("state", "HY000")),
                   str(data.get("message", "Malformed packet")))


class NotTheStandIn(SqlError):
    """Something answered that is not the rehearsal's stand-in server (a real
    MySQL server, say): this client cannot talk to it."""


def lost(during: str, errno: int = 0) -> SqlError:
    return SqlError(2013, "HY000",
                    f"Lost connection to server at '{during}', system error: {errno}")


# --- results -------------------------------------------------------------------------


@dataclass
class Result:
    """What one statement returned: columns and rows (None for SQL NULL), or
    nothing for a statement without a result set; notes as SHOW WARNINGS has them."""

    columns: list[str] | None = None
    rows: list[list[str | None]] = field(default_factory=list)
    notes: list[tuple[str, int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "notes": self.notes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        columns = data.get("columns")
        return cls(
            columns=[str(c) for c in columns] if isinstance(columns, list) else None,
            rows=[[None if v is None else str(v) for v in row] for row in data.get("rows", [])],
            notes=[(str(a), int(b), str(c)) for a, b, c in data.get("notes", [])],
        )


# --- SQL text --------------------------------------------------------------------------


def split_statements(text: str) -> list[tuple[int, str]]:
    """Cut SQL text into statements the way the mysql client does: on ``;``
    outside quotes and comments. Comments are dropped, except executable ones
    (``/*!40101 ... */``), which the server runs. Each statement comes with
    the line it starts on, which the client's "ERROR ... at line N" names."""
    statements: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    line = 1
    i = 0
    n = len(text)

    def begin() -> None:
        nonlocal start
        if not "".join(buf).strip():
            start = line

    while i < n:
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "-" and nxt == "-" and (i + 2 >= n or text[i + 2] in " \t\r\n\f\v"):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            chunk = text[i:end]
            if chunk.startswith("/*!") or chunk.startswith("/*M!"):
                begin()
                buf.append(chunk)
            else:
                buf.append(" ")
            line += chunk.count("\n")
            i = end
            continue
        if ch in "'\"`":
            begin()
            j = i + 1
            while j < n:
                if text[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if text[j] == ch:
                    break
                j += 1
            chunk = text[i : j + 1]
            buf.append(chunk)
            line += chunk.count("\n")
            i = j + 1
            continue
        if ch == ";":
            statement = "".join(buf).strip()
            if statement:
                statements.append((start, statement))
            buf = []
            i += 1
            continue
        if not ch.isspace():
            begin()
        buf.append(ch)
        if ch == "\n":
            line += 1
        i += 1
    statement = "".join(buf).strip()
    if statement:
        statements.append((start, statement))
    return statements


# --- option files ----------------------------------------------------------------------


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "s": " ", "\\": "\\", '"': '"',
            "'": "'"}


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            # An unknown escape keeps its backslash (`\=` stays `\=`).
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _option_value(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        i = 1
        while i < len(raw):
            if raw[i] == "\\":
                i += 2
                continue
            if raw[i] == quote:
                return _unescape(raw[1:i])
            i += 1
        # No closing quote: the quote is part of the value.
        return _unescape(raw)
    # Unquoted, '#' starts a comment (so an unquoted password stops there).
    return _unescape(raw.split("#", 1)[0].rstrip())


class OptionFileError(Exception):
    pass


def read_option_file(path: Path, groups: tuple[str, ...] = CLIENT_GROUPS,
                     *, warn: Any = None) -> list[tuple[str, str | None]]:
    """(name, value) pairs of ``path`` in the given groups, in file order.

    A world-writable regular file is ignored with the client's warning, as
    MariaDB's and MySQL's clients do; a pipe (/dev/fd/N) is read like any
    file. A missing file raises OptionFileError.
    """
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OptionFileError(str(exc)) from None
    if stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IWOTH:
        if warn is not None:
            warn(f"Warning: World-writable config file '{path}' is ignored")
        return []
    found: list[tuple[str, str | None]] = []
    active = False
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#;" or line.startswith("!"):
            continue
        if line.startswith("["):
            group = line[1:].split("]", 1)[0].strip().lower()
            active = group in groups
            continue
        if not active:
            continue
        name, sep, value = line.partition("=")
        name = name.strip().replace("_", "-")
        found.append((name, _option_value(value) if sep else None))
    return found


# --- the wire --------------------------------------------------------------------------


class Connection:
    """A connection to a stand-in server (blocking; one request at a time)."""

    def __init__(self, sock: socket.socket, greeting: str) -> None:
        self._sock = sock
        self._file = sock.makefile("rwb")
        self.greeting = greeting

    @classmethod
    def open(cls, host: str, port: int, timeout: float | None) -> Connection:
        """Resolve, connect and read the greeting, each failure as the client reports it."""
        try:
            infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise SqlError(2005, "HY000", f"Unknown server host '{host}' ({exc.errno})") from None
        except UnicodeError:
            raise SqlError(2005, "HY000", f"Unknown server host '{host}' (-2)") from None
        last: OSError | None = None
        sock: socket.socket | None = None
        for family, kind, proto, _, address in infos:
            candidate = socket.socket(family, kind, proto)
            candidate.settimeout(timeout)
            try:
                candidate.connect(address)
            except OSError as exc:
                candidate.close()
                last = exc
                continue
            sock = candidate
            break
        if sock is None:
            if isinstance(last, TimeoutError):
                errno = _ETIMEDOUT
            elif isinstance(last, ConnectionRefusedError) or last is None:
                errno = _EINPROGRESS
            else:
                errno = last.errno or _EINPROGRESS
            raise SqlError(2002, "HY000", f"Can't connect to server on '{host}' ({errno})")
        try:
            raw = sock.makefile("rb").readline(4096)
        except TimeoutError:
            sock.close()
            raise lost(HANDSHAKE, _ETIMEDOUT) from None
        except OSError as exc:
            sock.close()
            raise lost(HANDSHAKE, exc.errno or 0) from None
        if not raw:
            sock.close()
            raise lost(HANDSHAKE, _EAGAIN)
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line.startswith(GREETING + " "):
            sock.close()
            raise NotTheStandIn(2013, "HY000",
                                f"Lost connection to server at '{HANDSHAKE}', system error: 0")
        # The handshake is done: the server is ours and answers promptly.
        sock.settimeout(None)
        return cls(sock, line[len(GREETING) + 1 :])

    def _call(self, request: dict[str, Any], during: str) -> dict[str, Any]:
        try:
            self._file.write(json.dumps(request).encode("utf-8") + b"\n")
            self._file.flush()
            raw = self._file.readline()
        except OSError as exc:
            raise lost(during, exc.errno or 0) from None
        if not raw:
            raise SqlError(2013, "HY000", "Lost connection to server during query")
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError:
            raise SqlError(2027, "HY000", "Malformed packet") from None
        if not isinstance(answer, dict):
            raise SqlError(2027, "HY000", "Malformed packet")
        if "error" in answer:
            raise SqlError.from_json(answer["error"])
        return answer

    def login(self, user: str, password: str | None, database: str | None) -> None:
        self._call({"op": "login", "user": user, "password": password, "database": database},
                   "reading authorization packet")

    def query(self, sql: str) -> Result:
        return Result.from_json(self._call({"op": "query", "sql": sql}, "sending query"))

    def close(self) -> None:
        try:
            self._file.write(b'{"op": "quit"}\n')
            self._file.flush()
        except OSError:
            pass
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the command -----------------------------------------------------------------------


class UsageError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Options:
    """The mysql client's command-line options this stand-in understands."""
    host: str = "localhost"
    port: int = 3306
    user: str | None = None
    password: str | None = None
    protocol: str | None = None
    connect_timeout: float | None = None
    database: str | None = None
    execute: str | None = None
    column_names: bool = True
    force: bool = False
    show_warnings: bool = False
    version: bool = False


_VALUED = {"host", "port", "user", "password", "protocol", "connect-timeout", "database",
           "execute", "default-character-set", "socket"}
_FLAGS = {"batch", "skip-column-names", "force", "show-warnings", "version", "no-beep",
          "column-names", "skip-force"}
_SHORT_VALUED = {"h": "host", "P": "port", "u": "user", "D": "database", "e": "execute",
                 "S": "socket"}
_SHORT_FLAGS = {"N": "skip-column-names", "B": "batch", "f": "force", "V": "version"}
_DEFAULTS_OPTIONS = ("--defaults-extra-file=", "--defaults-file=", "--no-defaults")


def _set(options: Options, name: str, value: str | None) -> None:
    if name in ("host", "user", "password", "protocol", "database", "execute", "port",
                "connect-timeout", "default-character-set", "socket") and value is None:
        if name == "password":
            raise UsageError(
                "mysql: the rehearsal host's mysql cannot prompt for a password; "
                "give it in an option file (--defaults-extra-file)", 1)
        raise UsageError(f"mysql: option '--{name}' requires an argument", EXIT_UNKNOWN_OPTION)
    if name == "host":
        options.host = str(value)
    elif name == "port":
        try:
            options.port = int(str(value))
        except ValueError:
            raise UsageError(f"mysql: Incorrect integer value: '{value}'",
                             EXIT_UNKNOWN_VARIABLE) from None
    elif name == "user":
        options.user = value
    elif name == "password":
        options.password = value
    elif name == "protocol":
        options.protocol = str(value).lower()
    elif name == "connect-timeout":
        try:
            seconds = int(str(value))
        except ValueError:
            raise UsageError(f"mysql: Incorrect unsigned integer value: '{value}'",
                             EXIT_UNKNOWN_VARIABLE) from None
        options.connect_timeout = float(seconds) if seconds > 0 else None
    elif name == "database":
        options.database = value
    elif name == "execute":
        options.execute = value
    elif name == "skip-column-names":
        options.column_names = False
    elif name == "column-names":
        options.column_names = value not in ("0", "false", "FALSE", "off", "OFF")
    elif name == "force":
        options.force = True
    elif name == "skip-force":
        options.force = False
    elif name == "show-warnings":
        options.show_warnings = True
    elif name == "version":
        options.version = True
    elif name in ("batch", "no-beep", "default-character-set", "socket"):
        pass
    else:  # an option file's variable this client does not know
        shown = name if value is None else f"{name}={value}"
        raise UsageError(f"mysql: unknown variable '{shown}'", EXIT_UNKNOWN_VARIABLE)


def parse_arguments(argv: list[str], *, warn: Any) -> tuple[Options, list[str]]:
    """Options from the option files and the command line, and the positional
    arguments, with the client's messages for what it refuses."""
    options = Options()
    args = list(argv)
    extra: Path | None = None
    read_home = True
    # --defaults-extra-file and its kin count only as the very first options.
    while args and args[0].startswith(_DEFAULTS_OPTIONS):
        first = args.pop(0)
        if first == "--no-defaults":
            read_home = False
        else:
            extra = Path(first.split("=", 1)[1]).expanduser()
            if first.startswith("--defaults-file="):
                read_home = False
    files: list[Path] = []
    home = os.environ.get("HOME")
    if read_home and home:
        files.append(Path(home) / ".my.cnf")
    if extra is not None:
        if not extra.is_absolute():
            extra = Path.cwd() / extra
        # Anything the client can open will do: the runbook hands it a pipe.
        if not extra.exists() or extra.is_dir():
            raise UsageError(f"Could not open required defaults file: {extra}\n"
                             "Fatal error in defaults handling. Program aborted", 1)
        files.append(extra)
    for path in files:
        if not path.exists() or path.is_dir():
            continue
        try:
            pairs = read_option_file(path, warn=warn)
        except OptionFileError:
            continue
        for name, value in pairs:
            _set(options, name, value)

    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if arg.startswith("--"):
            name, sep, value = arg[2:].partition("=")
            name = name.replace("_", "-")
            if arg.startswith(_DEFAULTS_OPTIONS):
                raise UsageError(f"mysql: unknown variable '{arg[2:]}'", EXIT_UNKNOWN_VARIABLE)
            if name == "password":
                _set(options, name, value if sep else None)
            elif name in _VALUED:
                if not sep:
                    if i >= len(args):
                        raise UsageError(f"mysql: option '--{name}' requires an argument",
                                         EXIT_UNKNOWN_OPTION)
                    value = args[i]
                    i += 1
                _set(options, name, value)
            elif name in _FLAGS:
                _set(options, name, value if sep else None)
            else:
                raise UsageError(f"mysql: unknown option '--{name}'", EXIT_UNKNOWN_OPTION)
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                j += 1
                if letter in _SHORT_FLAGS:
                    _set(options, _SHORT_FLAGS[letter], None)
                elif letter in _SHORT_VALUED:
                    value = arg[j:]
                    if not value:
                        if i >= len(args):
                            raise UsageError(f"mysql: option '-{letter}' requires an argument",
                                             EXIT_UNKNOWN_OPTION)
                        value = args[i]
                        i += 1
                    _set(options, _SHORT_VALUED[letter], value)
                    break
                elif letter == "p":
                    _set(options, "password", arg[j:] or None)
                    break
                else:
                    raise UsageError(f"mysql: unknown option '-{letter}'", EXIT_UNKNOWN_OPTION)
            continue
        positional.append(arg)
    return options, positional


def _batch_value(value: str | None) -> str:
    if value is None:
        return "NULL"
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\0", "\\0"))


def _print_result(result: Result, options: Options, out: Any) -> None:
    if result.columns is not None and result.rows:
        if options.column_names:
            out.write("\t".join(result.columns) + "\n")
        for row in result.rows:
            out.write("\t".join(_batch_value(v) for v in row) + "\n")
    if options.show_warnings:
        for level, code, message in result.notes:
            out.write(f"{level} (Code {code}): {message}\n")


def run(argv: list[str], stdin: Any, stdout: Any, stderr: Any, name: str = "mysql") -> int:
    def say(message: str) -> None:
        stderr.write(message + "\n")
        stderr.flush()

    try:
        options, positional = parse_arguments(argv, warn=say)
    except UsageError as exc:
        say(str(exc).replace("mysql:", f"{name}:", 1))
        if exc.status == EXIT_UNKNOWN_OPTION and "unknown option" in str(exc):
            say(f"{name}: (this is the rehearsal host's stand-in client; it knows the options "
                "the runbook uses)")
        return exc.status
    if options.version:
        stdout.write(f"{name}  Ver 15.1 Distrib 10.11.6-MariaDB, for rehearsal (stand-in)\n")
        return 0
    if positional:
        options.database = positional[0]
    if len(positional) > 1:
        say(f"{name}: Too many arguments")
        return 1
    if options.protocol not in (None, "tcp"):
        say("ERROR 2002 (HY000): Can't connect to local server through socket "
            "'/run/mysqld/mysqld.sock' (2)")
        return 1
    if options.protocol is None and options.host == "localhost":
        say("ERROR 2002 (HY000): Can't connect to local server through socket "
            "'/run/mysqld/mysqld.sock' (2)")
        return 1
    user = options.user if options.user is not None else getpass.getuser()

    text = options.execute if options.execute is not None else stdin.read()
    statements = split_statements(text)

    try:
        connection = Connection.open(options.host, options.port, options.connect_timeout)
    except SqlError as exc:
        say(exc.line())
        if isinstance(exc, NotTheStandIn):
            say(f"{name}: {options.host}:{options.port} is not the rehearsal's stand-in "
                "database, and this stand-in client can talk to no other")
        return 1
    with connection:
        try:
            connection.login(user, options.password, options.database)
        except SqlError as exc:
            say(exc.line())
            return 1
        for at, sql in statements:
            try:
                result = connection.query(sql)
            except SqlError as exc:
                stdout.flush()
                say(f"--------------\n{sql}\n--------------\n")
                say(exc.line(at))
                if exc.code >= 2000:
                    return 1
                if not options.force:
                    return 1
                continue
            _print_result(result, options, stdout)
    stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    name = os.environ.get("RUNBOOK_MYSQL_NAME") or "mysql"
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return run(sys.argv[1:] if argv is None else argv, stdin, sys.stdout, sys.stderr, name)


if __name__ == "__main__":
    sys.exit(main())
