"""The operator's TOML configuration, read into typed settings.

A bad file must never end in a traceback: every problem becomes a
:class:`ConfigError` that names the file, the line and the key, and says what
to do. Secrets are never read from the file itself; the file names where they
come from (an environment variable) and the operator is asked otherwise.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn
from urllib.parse import urlsplit

from runbook.model import REAL_PACE
from runbook.redact import is_secret_key, near_a_secret_name
from runbook.wholefile import special_file

API_VERSIONS = ("3.0", "3.1", "4.0")


class ConfigError(Exception):
    """One clear line: which file, which line and key, what is wrong, what to do."""

    def __init__(
        self, source: str, message: str, *, line: int | None = None, key: str = ""
    ) -> None:
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {key} {message}" if key else f"{where}: {message}")


class CommandRefused(ConfigError):
    """A command's refusal of how it was given (an option's value, a missing
    terminal), said as the door says its own: "runbook rehearse: ...", not
    "runbook: rehearse: ..." as a file's error is (review)."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(command, message)
        self.command = command
        self.said = message


@dataclass(frozen=True)
class HostSettings:
    """How to reach the stream manager host over SSH, and as whom."""
    address: str
    port: int = 22
    user: str = "root"
    sudo: bool = True
    identity: Path | None = None
    known_hosts: Path | None = None
    ssh_config: Path | None = None

    @property
    def target(self) -> str:
        """user@address:port, as the journal, the status line and the refusals say it."""
        return f"{self.user}@{self.address}:{self.port}"

    @property
    def login(self) -> str:
        """user@address, as the operator would type it to ssh."""
        return f"{self.user}@{self.address}"


@dataclass(frozen=True)
class Timeouts:
    """The longest each kind of remote action or API wait may take, in seconds."""
    command: float = 120.0
    upload: float = 1800.0
    service_stop: float = 30.0
    service_start: float = 300.0
    nodegroups_gone: float = 600.0
    origins_inservice: float = 900.0


@dataclass(frozen=True)
class Settings:
    """A run's configuration: its TOML file, read and checked, and what the
    command line adds (a rehearsal's pace, --yes)."""
    source: str
    host: HostSettings
    install_dir: str
    upload_dir: str
    unit_file: str
    distribution: Path
    cloud_controller: Path
    new_db_host: str
    new_db_port: int | None
    api_base_url: str
    api_version: str | None  # None means detect it
    new_api_version: str | None
    token_env: str
    decisions: Path | None = None
    property_overrides: dict[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    rehearsal: bool = False
    # The node image the recreated launch configs name, when the operator
    # gives one (the upgrade docs say nothing of node images); None keeps each
    # launch config's own.
    node_image: str | None = None
    # How fast a rehearsal host's fake cloud runs (1.0 the documented
    # durations): set by `runbook rehearse` from its host, never by a config
    # file, which cannot know it. None: a real host, or a rehearsal that did
    # not say.
    rehearsal_pace: float | None = None
    # A rehearsal's upgrade path (its scenario's name) and the faults it
    # rehearses, set by `runbook rehearse`: the journal records them, as a
    # cutover of another path, or with a fault's waits in it, is no estimate.
    rehearsal_scenario: str | None = None
    rehearsal_faults: tuple[str, ...] = ()
    # The rehearsal's new release has a stand-in red5-web.properties template
    # and cluster.sql, not its own (runbook/rehearsal/data/README.md): the
    # steps that use them say so. Set by `runbook rehearse`, never by a
    # config file; a production run never says it.
    rehearsal_stand_ins: bool = False
    # Where the host keeps its cgroup tree, in which stop-service reads the
    # red5pro unit's control group: systemd's place on every host; a
    # rehearsal host keeps a stand-in in its sandbox (data README). Set by
    # `runbook rehearse`, never by a config file.
    cgroup_root: str = "/sys/fs/cgroup"
    # `runbook rehearse` without --sandbox or --keep: its host and sandbox go
    # as it ends, so --resume has nothing to go on with. Set by the CLI.
    rehearsal_throwaway: bool = False
    # --yes answers every step: nobody reads a plan or types an id, so the
    # run's times are no estimate for a run at the keys (set by the CLI).
    unattended: bool = False
    # --headless: journalled, so a report names the commands that go on as
    # the run's exit lines do (set by the CLI).
    headless: bool = False
    # --take-over-host: a claim another run left on the host is replaced,
    # unless it was kept for a cutover this run does not go on with
    # (runbook.claim; set by the CLI, never journalled as a setting).
    take_over_host: bool = False
    # The API token was typed at runbook's prompt, not read from token_env
    # (set by the CLI): a refusal of it names the prompt, not a variable
    # that is not set (trial 60, F13).
    token_typed: bool = False

    @property
    def pace(self) -> float | None:
        """The pace of this run's host, as a journal records it (journal.run_pace):
        only runs at the same pace can stand for each other's times."""
        return self.rehearsal_pace if self.rehearsal else REAL_PACE

    @property
    def sandboxed(self) -> bool:
        """`runbook rehearse`'s own run: its config is built in memory for its
        sandbox (`source` names no file) and its token is the host's own, so
        advice to edit the one or give the other cannot apply (trial 57, F19)."""
        return self.rehearsal and self.rehearsal_scenario is not None

    @property
    def offers_again(self) -> str:
        """What offers a step this run leaves again: --resume, or, for a
        throwaway rehearsal, whose host goes as it ends, a new rehearsal."""
        return "a new rehearsal" if self.rehearsal_throwaway else "--resume"

    @property
    def goes_on(self) -> str:
        """How a run stopped here goes on, said after "stop, then": with
        --resume, or, for a throwaway rehearsal, whose host goes as it ends
        (--resume finds nothing), in a new rehearsal."""
        return "rehearse again" if self.rehearsal_throwaway else "go on with --resume"

    @property
    def live_dir(self) -> str:
        return f"{self.install_dir.rstrip('/')}/red5pro"

    @property
    def backup_dir(self) -> str:
        return f"{self.install_dir.rstrip('/')}/bak.red5pro"


# Every name each section takes: anything else is a typo that would otherwise
# be ignored in silence, leaving a default in its place.
_KNOWN: dict[str, tuple[str, ...]] = {
    "host": tuple(HostSettings.__dataclass_fields__),
    "install": ("dir", "upload_dir", "unit_file"),
    "artifacts": ("distribution", "cloud_controller"),
    "new_database": ("host", "port"),
    "api": ("base_url", "version", "new_version", "token_env"),
    "properties": ("decisions", "set"),  # the names under `set` are property names: free
    "timeouts": tuple(Timeouts.__dataclass_fields__),
    "rehearsal": ("enabled",),
    "nodes": ("image",),
}


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# POSIX user names (portable file name characters, never a leading hyphen),
# upper case included because operators have it, and Samba's trailing $.
_USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*\$?")


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _apart_from_the_install(upload_dir: str, install_dir: str) -> bool:
    """Not /, not the install folder, nor inside a release there: the zip
    beside the new tree matches red5pro-server-*, and a folder in the live
    install moves with it. (`..` is refused before: the rule reads names.)"""
    upload, install = PurePosixPath(upload_dir), PurePosixPath(install_dir)
    if not upload_dir.strip("/") or upload == install:
        return False
    if not upload.is_relative_to(install):
        return True
    first = upload.relative_to(install).parts[0]
    return first not in ("red5pro", "bak.red5pro") and not first.startswith("red5pro-server-")


def _is_api_host(text: str) -> bool:
    """The API's host: an IP address, or a name of letters, digits, '.', '-'
    and '_' (names the SSH target and the database host are refused)."""
    return _is_host_name(text) or re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", text) is not None


def _is_host_name(text: str) -> bool:
    """A DNS host name or an IP address: nothing ssh or a shell could read as more."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return len(text) <= 253 and all(map(_HOST_LABEL.fullmatch, text.split(".")))
    # ipaddress takes anything as the zone of fe80::1%eth0; an interface name is wanted
    zone = getattr(address, "scope_id", None)
    return zone is None or re.fullmatch(r"[A-Za-z0-9_.-]+", zone) is not None


def _closest(name: str, known: Collection[str], prefix: str, otherwise: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {prefix}{close[0]}?" if close else f"{otherwise} {', '.join(known)}"


# --- reading -----------------------------------------------------------------


def load(path: Path, *, substitutions: Mapping[str, str] | None = None) -> Settings:
    """Read a config file; `substitutions` fill `{name}` fields (the rehearsal's)."""
    source = str(path)
    if special_file(path):
        raise ConfigError(source, "is not a regular file (a pipe or a device); give the path "
                          "of your runbook config")
    try:
        # utf-8-sig: an editor's byte order mark is no part of the TOML (operator trial).
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, "no such file; give the path of your runbook config") from None
    except IsADirectoryError:
        raise ConfigError(source, "is a directory; give the path of a .toml file") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "is not UTF-8 text; a runbook config is a TOML file") from None
    except OSError as exc:
        raise ConfigError(source, f"cannot be read ({exc.strerror})") from None
    return loads(text, source=source, base_dir=path.parent, substitutions=substitutions)


def filled(text: str, substitutions: Mapping[str, str]) -> str:
    """`text` with each `{name}` field replaced by its value (the rehearsal's config)."""
    for name, value in substitutions.items():
        text = text.replace("{" + name + "}", value)
    return text


def loads(
    text: str,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    substitutions: Mapping[str, str] | None = None,
) -> Settings:
    text = filled(text, substitutions or {})
    try:
        # The standard library's parser: a tenth of tomlkit's start-up, which
        # every front end paid before its first screen. tomlkit only words
        # what is wrong with a file that does not parse.
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        if "{ssh_port}" in text:  # the rehearsal's template, its fields not filled in
            raise ConfigError(source, "is the rehearsal's config template, which `runbook "
                              "rehearse` fills in with the fake host it starts; rehearse with "
                              "that (the way back too: --rollback-after STEP), or give run "
                              "and rollback a config of your own "
                              "(sample-configs/production.example.toml shows one)") from None
        raise _not_toml(text, source) from None
    except RecursionError:  # the parser's own limit, not the file's mistake to name
        raise ConfigError(source, f"not valid TOML ({TOO_DEEP})") from None
    reader = _Reader(doc, text, source, base_dir or Path.cwd())
    return reader.settings()


# What a parser that ran out of stack (bad-input trial: 500 nested arrays)
# says of the file, in place of its traceback.
TOO_DEEP = "nested deeper than runbook reads: arrays or tables inside one another"


def _not_toml(text: str, source: str) -> ConfigError:
    from tomlkit import parse
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        parse(text)
    except TOMLKitError as exc:
        error: Exception = exc
    except RecursionError:  # tomlkit's stack ends a little before tomllib's (review)
        return ConfigError(source, f"not valid TOML ({TOO_DEEP})")
    else:  # the two parsers disagree: say what the standard library said
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return ConfigError(source, f"not valid TOML ({str(exc).split(' (at line')[0]})",
                               line=_stdlib_error_line(text))
        raise AssertionError("_not_toml called for a file that parses")
    reason = str(error).split(" at line")[0]
    if "use \\u000a instead" in reason:
        # A line end inside a string: in a hand-edited file, its closing quote
        # is missing (operator trial: the parser's words named control characters).
        reason = "a string runs to the end of its line: is its closing quote missing?"
    twice = re.match(r'Key "(.*)" already exists|Redefinition of an existing table', reason)
    if twice is None:
        line = error.line if isinstance(error, ParseError) else None
        return ConfigError(source, f"not valid TOML ({reason}){_bare_word_hint(text, line)}",
                           line=line)
    line = _stdlib_error_line(text)
    name = _name_on_line(text, line, twice[1])
    advice = "merge the two into one" if name.startswith("[") else "keep one, delete the other"
    return ConfigError(source, f"is given twice; {advice}", line=line, key=name)


# `key = word`: a word left out of its quotes (re-trial 53: `version = auto`
# said only "Unexpected character: 'a'").
_BARE_WORD = re.compile(r'\s*([A-Za-z0-9_.\-"\']+)\s*=\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(#.*)?')


def _bare_word_hint(text: str, line: int | None) -> str:
    """What to write where the parser stopped at a bare word after `=`."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    found = _BARE_WORD.fullmatch(lines[line - 1])
    if found is None or found[2] in ("true", "false", "inf", "nan"):
        return ""
    return f': a word is written in quotes: write {found[1]} = "{found[2]}"'


def _stdlib_error_line(text: str) -> int | None:
    # tomlkit does not say where a second definition is (for a table it
    # points past the table's end); the standard library's parser stops on it.
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        return int(found[1]) if found else None
    return None


def _name_on_line(text: str, line: int | None, key: str | None) -> str:
    """What is defined on `line`, spelled as the operator would: [table] or table.key."""
    lines = text.splitlines()[: line or 0]
    if not lines:
        return key or "a table"
    header = re.compile(r"\s*\[+\s*([^\]]+?)\s*\]")
    if match := header.match(lines[-1]):
        return f"[{match[1]}]"
    table = next((m[1] for m in map(header.match, reversed(lines)) if m), "")
    name = lines[-1].split("=", 1)[0].strip()
    if key and key not in name:  # a key inside an inline table: set = { a = "1", a = "2" }
        name = f"{name}.{key}"
    return f"{table}.{name}" if table else name


class _Reader:
    """Pulls typed values out of the parsed document, remembering where they were."""

    def __init__(self, doc: dict[str, Any], text: str, source: str, base_dir: Path) -> None:
        self.doc = doc
        self.text = text
        self.source = source
        self.base_dir = base_dir

    def settings(self) -> Settings:
        self._check_names()
        host = HostSettings(
            # It also names the journal file, so it must stay a plain name.
            address=self._host_name("host", "address", " (user@ and :port go in host.user "
                                    "and host.port)"),
            port=self._int("host", "port", 22, 1, 65535),
            user=self._str("host", "user"),
            sudo=self._bool("host", "sudo", True),
            identity=self._path("host", "identity"),
            known_hosts=self._path("host", "known_hosts"),
            ssh_config=self._path("host", "ssh_config"),
        )
        if len(host.user) > 32 or not _USER_NAME.fullmatch(host.user):
            self._fail("host", "user", "must be a user name on the host: up to 32 letters, "
                       "digits, '_', '-' or '.', starting with a letter or '_'")
        install_dir = self._str("install", "dir", "/usr/local")
        upload_dir = self._str("install", "upload_dir", "/tmp/runbook-upload")
        unit_file = self._str("install", "unit_file", "/lib/systemd/system/red5pro.service")
        for key, value in (("dir", install_dir), ("upload_dir", upload_dir),
                           ("unit_file", unit_file)):
            if not value.startswith("/"):
                self._fail("install", key, "must be an absolute path on the host")
            if _has_control(value):
                self._fail("install", key, "holds a line break or another control "
                           "character; give the path on one line")
        if ".." in PurePosixPath(upload_dir).parts:
            self._fail("install", "upload_dir", "names its folder through '..'; give the "
                       "folder's own path")
        if not _apart_from_the_install(upload_dir, install_dir):
            self._fail("install", "upload_dir", f"must be a folder of its own, not / nor "
                       f"{install_dir} or inside a release there (the cutover moves "
                       "red5pro-server-* into place); the default is /tmp/runbook-upload")
        distribution = self._path("artifacts", "distribution", required=True)
        controller = self._path("artifacts", "cloud_controller", required=True)
        assert distribution is not None and controller is not None
        # Named by its release as Red5 publishes it, or by the account's
        # download (red5pro-server-us-<uuid>.zip), whose release preflight
        # reads inside. Its name goes to the host: plain characters only.
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._+-]*\.zip", distribution.name):
            self._fail("artifacts", "distribution", "should be the Red5 Pro server "
                       "distribution, a .zip whose name has only letters, digits, '.', '_', "
                       "'+' and '-' (rename it if not)")
        if not controller.name.endswith(".jar"):
            self._fail("artifacts", "cloud_controller", "should be the cloud controller .jar")
        for key, local in (("distribution", distribution), ("cloud_controller", controller)):
            if special_file(local):
                # Review: preflight's read of a FIFO blocked the run, ctrl+c too.
                self._fail("artifacts", key, f"{local} is not a regular file (a pipe or a "
                           "device); give the path of the file itself")
        # It ends up inside a bash script run on the host (the /dev/tcp probe).
        new_db_host = self._host_name("new_database", "host")
        base_url = self._base_url()
        token_env = self._str("api", "token_env", "SM_API_TOKEN")
        if not _a_variables_name(token_env, os.environ):
            # Never the value: it may be the token itself, pasted where its
            # name goes (trial 55, F2: then on the token prompt, in every
            # plan's curl line, and in the journal and report through them).
            self._fail("api", "token_env", "must be the NAME of the environment variable that "
                       "holds the token, in capitals, digits and '_' (as SM_API_TOKEN), not "
                       "the token; if the token itself is there, remove it from the file, "
                       "and take it as exposed")
        overrides = self.doc.get("properties", {}).get("set", {})
        for key in overrides if isinstance(overrides, dict) else ():
            value = overrides[key]
            if isinstance(value, dict) and value:
                # `config.dbPort = "3307"` is table config to TOML (review),
                # and spring.jackson.default-property-inclusion two of them.
                parts = [key]
                while isinstance(value, dict) and value:
                    inner = next(iter(value))
                    parts.append(inner)
                    value = value[inner]
                name = ".".join(parts)
                self._fail("properties", "set", f"a name with dots must be quoted: "
                           f"\"{name}\" = ..., not {name} = ...")
            if _has_control(key) or _has_control(str(value)):
                # The plan shows the edit a line a key: a second line read as
                # an edit of its own (the file written escapes it).
                self._fail("properties", "set", f"{key.strip()!r} holds a line break or "
                           "another control character in its key or value; give each on "
                           "one line")
            if is_secret_key(key):
                self._fail("properties", "set", f"{key} is a secret; secrets are not read from "
                           "the config file: decide it in the decisions file (value_env)")
            near = near_a_secret_name(key)
            if near is not None:
                # Taken, its value would be shown in clear by plan (review).
                self._fail("properties", "set", f"{key} reads as a misspelt secret's name "
                           f"({near}?); secrets are not read from the config file: check the "
                           "name, and decide a secret in the decisions file (value_env)")
        if not isinstance(overrides, dict) or not all(
            isinstance(v, str) for v in overrides.values()
        ):
            self._fail("properties", "set", "must be a table of key = \"value\" strings")
        timeouts = Timeouts(**{
            name: self._float("timeouts", name, getattr(Timeouts, name))
            for name in Timeouts.__dataclass_fields__
        })
        return Settings(
            source=self.source,
            host=host,
            install_dir=install_dir.rstrip("/") or "/",
            upload_dir=upload_dir.rstrip("/"),
            unit_file=unit_file,
            distribution=distribution,
            cloud_controller=controller,
            new_db_host=new_db_host,
            new_db_port=self._int("new_database", "port", None, 1, 65535),
            api_base_url=base_url,
            api_version=self._version("version"),
            new_api_version=self._version("new_version"),
            token_env=token_env,
            decisions=self._path("properties", "decisions"),
            property_overrides=dict(overrides),
            timeouts=timeouts,
            rehearsal=self._bool("rehearsal", "enabled", False),
            node_image=self._str("nodes", "image", "") or None,
        )

    def _check_names(self) -> None:
        for table, section in self.doc.items():
            # a `name = value` above every [section] is a key of the top level ("")
            where = (table, "") if isinstance(section, dict) else ("", table)
            if table not in _KNOWN:
                self._fail(*where, "is not a section runbook knows; "
                           + _closest(table, _KNOWN, "", "the sections are"))
            if not isinstance(section, dict):
                self._fail(*where, f"is a section: write [{table}] on a line of its own and "
                           "its settings below it")
            for key in section:
                if (table, key) == ("api", "token"):
                    self._fail("api", "token", "secrets are not read from the config file; put "
                               "the token in the environment variable named by token_env")
                if key not in _KNOWN[table]:
                    self._fail(table, key, "is not a setting runbook knows; "
                               + _closest(key, _KNOWN[table], f"{table}.", f"[{table}] takes"))

    # -- typed getters -----------------------------------------------------

    def _get(self, table: str, key: str) -> Any:
        return self.doc.get(table, {}).get(key)  # _check_names made every section a table

    def _str(self, table: str, key: str, default: str | None = None) -> str:
        value = self._get(table, key)
        if value is None:
            if default is None:
                self._fail(table, key, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            self._fail(table, key, "must be a non-empty string")
        return value.strip()

    def _int(self, table: str, key: str, default: int | None, low: int, high: int) -> Any:
        value = self._get(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self._fail(table, key, f"must be a whole number from {low} to {high}")
        return value

    def _float(self, table: str, key: str, default: float) -> float:
        value = self._get(table, key)
        if value is None:
            return default
        # TOML has nan and inf, and nan <= 0 is false: a limit of either never ends.
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value) or value <= 0:
            self._fail(table, key, "must be a positive number of seconds")
        return float(value)

    def _bool(self, table: str, key: str, default: bool) -> bool:
        value = self._get(table, key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._fail(table, key, "must be true or false")
        return value

    def _path(self, table: str, key: str, *, required: bool = False) -> Path | None:
        value = self._get(table, key)
        if value is None and not required:
            return None
        text = self._str(table, key)
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else (self.base_dir / path)

    def _base_url(self) -> str:
        """http(s)://HOST[:PORT], checked whole here: a bad port or bracket was
        taken, and failed later as a traceback, or left the plan without its
        API calls (bad-input trial)."""
        value = self._str("api", "base_url").rstrip("/")
        shape = "should look like http://HOST:5080 (no path, no user or password)"
        try:
            url = urlsplit(value)
            port = url.port
        except ValueError:
            port = -1
        if port == -1 or port == 0 or url.netloc.endswith(":"):
            self._fail("api", "base_url", f"{shape}, its port from 1 to 65535")
        host = (url.hostname or "").strip("[]")
        # Whatever httpx reaches (an underscore, a trailing dot), nothing a
        # curl line or a shell could read as more; a bare ? or # sent every
        # call to / (review).
        if url.scheme not in ("http", "https") or not _is_api_host(host) \
                or url.username is not None or url.path or "?" in value or "#" in value \
                or "@" in url.netloc or _has_control(value):
            self._fail("api", "base_url", shape)
        return value

    def _host_name(self, table: str, key: str, hint: str = "") -> str:
        value = self._str(table, key)
        if not _is_host_name(value):
            self._fail(table, key, f"must be a host name or an IP address{hint}")
        return value

    def _version(self, key: str) -> str | None:
        allowed = "must be \"auto\" or one of " + ", ".join(f'"{v}"' for v in API_VERSIONS)
        raw = self._get("api", key)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            # TOML reads an unquoted 4.0 as a number (trial 53: it said only
            # "must be a non-empty string", with no word of what is taken).
            # Re-trial 53: `new_version = 4` said "in quotes (in quotes)",
            # with no example; 4 is written "4.0", any other number "auto".
            text = str(raw)
            written = next((v for v in (text, f"{text}.0") if v in API_VERSIONS), "auto")
            self._fail("api", key, f'{allowed}, in quotes (write {key} = "{written}"): '
                       f"unquoted, {text} is a number")
        value = self._str("api", key, "auto")
        if value == "auto":
            return None
        if value not in API_VERSIONS:
            self._fail("api", key, allowed)
        return value

    def _fail(self, table: str, key: str, message: str) -> NoReturn:
        name = ".".join(part for part in (table, key) if part)
        raise ConfigError(self.source, message, line=self._line_of(table, key), key=name)

    def _line_of(self, table: str, key: str) -> int | None:
        """The line a key (or its table) is on; tomlkit keeps no positions."""
        lines = self.text.splitlines()
        header = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]")
        subtable = re.compile(r"^\s*\[\s*" + re.escape(f"{table}.{key}") + r"\s*\]")
        in_table = not table  # "" is the top level, before any [section]
        table_line = None
        for number, line in enumerate(lines, start=1):
            if key and subtable.match(line):
                return number
            if line.lstrip().startswith("["):
                in_table = bool(header.match(line))
                if in_table:
                    table_line = number
                continue
            # `key =`, or `key.sub =` (a dotted key makes a subtable in place)
            if in_table and key and re.match(r"\s*\"?" + re.escape(key) + r"\"?\s*[=.]", line):
                return number
        return table_line


# --- secrets ------------------------------------------------------------------


def _a_variables_name(name: str, environ: Mapping[str, str]) -> bool:
    """Whether [api] token_env reads as the name of an environment variable
    and not as a token pasted there: in the form names conventionally take
    (POSIX: capitals, digits and '_', not first a digit), and, unless a
    variable of that name is set, not shaped as a generated secret is (long,
    no '_', letters and digits mixed throughout). A name in small letters is
    refused though a shell takes it: Red5's sample token is `123abc`, and a
    token with no '-' passed as a name (trial 55, F2)."""
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        return False
    if name in environ:
        return True
    from itertools import pairwise

    mixed = sum(1 for a, b in pairwise(name) if a.isdigit() != b.isdigit())
    return "_" in name or len(name) < 12 or mixed < 4


class SecretUnavailable(Exception):
    pass


class TokenNotGiven(KeyboardInterrupt):
    """ctrl+c at the token prompt: the run has not begun (no journal claimed,
    nothing run), so it ends as an interrupted shell command does."""


def api_token(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> str:
    """The SM API token from the named environment variable, or asked for."""
    env = os.environ if environ is None else environ
    token = env.get(settings.token_env, "")
    if "\n" in token or "\r" in token:
        # A paste's line end (bad-input trial: sent, it came back a 401 with
        # no word of why); a properties value holds none.
        raise SecretUnavailable(
            f"{settings.source}: {settings.token_env} holds a line break, which no API token "
            f"has (a paste's line end, often); export it again without one")
    if token.strip():
        return token
    if token and prompt is None:  # set, but to spaces: no token (operator trial)
        raise SecretUnavailable(
            f"{settings.source}: {settings.token_env} is set but blank; export it with the "
            "value of rest.administratorToken and run again")
    if prompt is None:
        raise SecretUnavailable(
            f"{settings.source}: the Stream Manager API token is not set; export "
            f"{settings.token_env}=... (the value of rest.administratorToken) and run again"
        )
    unset = "is blank" if token else "is not set"
    token = prompt(f"Stream Manager API token ({settings.token_env} {unset}): ")
    if not token.strip():
        raise SecretUnavailable("no API token given; nothing was changed")
    return token


def token_was_typed(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """Whether api_token asked for the token: its variable holds none."""
    env = os.environ if environ is None else environ
    return not env.get(settings.token_env, "").strip()


def interactive_prompt() -> Callable[[str], str] | None:
    """getpass when a person is at the terminal, otherwise no prompt at all."""
    import sys

    if sys.stdin.isatty():
        return _ask_unseen
    return None


def _ask_unseen(prompt: str) -> str:
    # getpass is loaded only when a token is asked for (issue 12: start-up).
    import getpass
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return getpass.getpass(prompt)
    # asyncio's own ctrl+c handler, in place while the run's loop is, only
    # cancels the task on a first press, and getpass reads on: the first
    # ctrl+c was lost (README walkthrough). Here one press ends the prompt.
    # Ignored ctrl+c (a background job) stays ignored.
    handler = signal.getsignal(signal.SIGINT)
    if handler is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return getpass.getpass(prompt)
    except KeyboardInterrupt:
        raise TokenNotGiven from None
    finally:
        if handler is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_DFL if handler is None else handler)


def once_the_way_back_is_taken(throwaway: bool) -> str:
    """What comes after a way back once taken, said by both front ends as it
    is offered: --resume goes on with it, except in a throwaway rehearsal,
    whose host goes as it ends (Settings.rehearsal_throwaway)."""
    return ("this rehearsal's host goes as it ends, so to practise it again, rehearse again"
            if throwaway else "--resume goes on with the way back")
