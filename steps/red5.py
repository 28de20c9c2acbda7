"""What runbook knows about a Red5 Pro install: names, versions, the controller bean.

Pure functions only, so they can be tested on their own and used by plans
(which must not touch the host).
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

# The patterns here are kept as text, for re's own functions to compile the
# first time one is used (and keep in re's cache): compiled as the module is
# imported, they and runbook.redact's cost `runbook run` about 14 M
# instructions (callgrind, ~2 ms) before its first paint, which uses one of
# them, _DIST (issue 12).

WEB_INF = "webapps/streammanager/WEB-INF"
PROPERTIES_NAME = "red5-web.properties"
PROPERTIES = f"{WEB_INF}/{PROPERTIES_NAME}"
APP_CONTEXT = f"{WEB_INF}/applicationContext.xml"
LIB = f"{WEB_INF}/lib"
SERVICE_LOG = "log/red5.log"
# What Red5's "How to Upgrade Red5 Pro Server" page (DC
# `stand-alone/red5-pro-upgrade.md`, which the procedure follows) names as
# the files an operator most likely edited, to be edited again in the new
# tree and never copied: SSL in conf/red5.properties (and conf/jee-container.xml
# before 14.0.0), clustering in conf/cluster.xml. runbook carries none of
# them; carry-over names those that differ (review 60b, H1).
RED5_PROPERTIES = "conf/red5.properties"
EDITED_BY_HAND = (RED5_PROPERTIES, "conf/jee-container.xml", "conf/cluster.xml")
WEBAPPS = "webapps"
# Where a CorsFilter lets web pages on other sites call the stream manager API:
# Red5's CORS page has the operator add one, and Red5's 10.9.2-11.x installer
# adds one; no release found ships one active (5.1.1 and 6.2.0 have none).
# runbook does not carry it; carry-over names one the new tree lacks (facts
# audit 61, M2; data README).
WEB_XML = f"{WEB_INF}/web.xml"
_CORS_FILTER = (
    r"<filter-class>\s*org\.apache\.catalina\.filters\.CorsFilter\s*</filter-class>")
_XML_COMMENT = r"(?s)<!--.*?-->"


def has_cors_filter(web_xml: str) -> bool:
    """Whether a web.xml declares Tomcat's CorsFilter outside comments (a
    release may ship one commented out, for the operator to uncomment)."""
    return bool(re.search(_CORS_FILTER, re.sub(_XML_COMMENT, "", web_xml)))

_DIST = r"red5pro-server-(?:[A-Z]+-)?(?P<version>\d+(?:\.\d+)*(?:\.b\d+)?)-release"


def distribution_version(name: str) -> str | None:
    """`red5pro-server-11.1.0.b835-release.zip` -> `11.1.0.b835`."""
    match = re.search(_DIST, name)
    return match.group("version") if match else None


_INI_VERSION = (
    r"(?m)^server\.version=(?P<version>\d+(?:\.\d+)*(?:\.b\d+)?)(?:-release)?\s*$")


def _inside(names: list[str]) -> list[str]:
    """A zip's names in the install's own terms: without the top folder, if
    it has one."""
    return names if _is_flat(names) else [name.partition("/")[2] for name in names]


def _member(names: list[str], inside: list[str], wanted: str) -> str | None:
    """The zip's name of the install's file `wanted` (see _inside), if it holds one."""
    return next((name for name, rest in zip(names, inside, strict=True) if rest == wanted),
                None)


def zip_version(zip_path: Path) -> str | None:
    """The release a distribution zip holds. Its name says it as Red5 publishes
    it (red5pro-server-X.Y.Z.bN-release.zip); a zip downloaded from the Red5
    account is named red5pro-server-us-<uuid>.zip (FACTS-scenarios §2), and
    is read inside as Red5's installer reads an install: conf/red5.ini's
    server.version, else the root marker, else lib/red5pro-*-RELEASE.jar
    (FACTS-scenarios §5). None if neither says, or the zip cannot be read."""
    named = distribution_version(zip_path.name)
    if named is not None:
        return named
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            inside = _inside(names)
            ini = _member(names, inside, "conf/red5.ini")
            text = archive.read(ini).decode("utf-8", "replace") if ini else ""
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    return installed_version([rest for rest in inside if rest and "/" not in rest],
                             [rest.removeprefix("lib/") for rest in inside
                              if rest.startswith("lib/")], text)


def major(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def required_java(server_major: int | None) -> int | None:
    """The Java a server release runs on: 14 and later need 21, 9 to 13 need 11."""
    if server_major is None:
        return None
    if server_major >= 14:
        return 21
    if server_major >= 9:
        return 11
    return 8


def release_numbers(version: str | None) -> tuple[int, ...]:
    """6.2.0.b406 -> (6, 2, 0, 406), for ordering releases."""
    return tuple(int(n) for n in re.findall(r"\d+", version or ""))


def older(version: str | None, than: str | None) -> bool:
    return bool(version and than) and release_numbers(version) < release_numbers(than)


# Bigger than any red5-web.properties: a member claiming more is no template.
_TEMPLATE_MOST = 1 << 20


def shipped_template(zip_path: Path, wanted: str = PROPERTIES) -> tuple[bytes, str] | None:
    """The red5-web.properties a distribution zip ships (or another of its
    install's small files, `wanted`: its applicationContext.xml), and its name
    inside the zip; None where the zip has none that can be read (preflight
    and unpack say why)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            member = _member(names, _inside(names), wanted)
            if member is None or archive.getinfo(member).file_size > _TEMPLATE_MOST:
                return None
            return archive.read(member), f"{zip_path.name}:{member}"
    except Exception:
        # Damaged, encrypted, or packed in a way zipfile cannot unpack
        # (Deflate64, which the host's unzip may take): the steps say,
        # where it matters (second review: plan ended in a traceback).
        return None


def not_for_this_procedure(zip_path: Path) -> str | None:
    """Why a distribution cannot be the target of this procedure, if it cannot.

    This procedure upgrades the Stream Manager 1.x webapp; Stream Manager 2.0
    is a different, container-based product (FACTS, its scope and section
    2.6). A zip without webapps/streammanager is refused for that, a fact
    about the file. One of release 14 or later is refused too, even with the
    webapp: that Red5 Pro moved to Stream Manager 2.0 at 14 is the product
    owner's brief's word, and no public source found names the release (the
    rehearsal's data README), so it is said as not confirmed."""
    version = zip_version(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            webapp = any("/webapps/streammanager/" in f"/{name}" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return None  # layout says what is wrong with the zip
    if not webapp:
        return (f"{zip_path.name} has no webapps/streammanager, the Stream Manager 1.x webapp "
                "this procedure upgrades; it cannot install a release without it (Stream "
                "Manager 2.0 is a separate, container-based product)")
    if (major(version) or 0) >= 14:
        return (f"{zip_path.name} is release {version}: runbook takes no release from 14 on, "
                "as Red5 Pro is believed to ship Stream Manager 2.0 from 14, a separate, "
                "container-based product (no public source found confirms the release); this "
                "procedure upgrades the Stream Manager 1.x webapp only")
    return None


def api_version(server_version: str | None) -> str | None:
    """The Stream Manager API a server release serves (Red5's API overview pages):
    4.0 from 7.0.0, 3.1 after 5.2.0, 3.0 for 5.1.1 (every 5.1.x: inferred, see the
    rehearsal's data README). None where the table says nothing. 5.2.0 itself
    too: the DC 3.1 overview says "greater than Version 5.2.0", Red5's older v3.1
    page that 5.2.0 brought the updated API (facts audit 57b, L2). Kept None: a
    wrong version would have preflight refuse a 5.2.0 stream manager answering
    the other as "another stream manager's", where None only skips comparing."""
    numbers = re.findall(r"\d+", server_version or "")[:3]
    if len(numbers) < 2:
        return None
    release = tuple(int(n) for n in numbers) + (0,) * (3 - len(numbers))
    if release >= (7, 0, 0):
        return "4.0"
    if (5, 2, 0) < release < (7, 0, 0):
        return "3.1"
    if release[:2] == (5, 1):
        return "3.0"
    return None


def before_api_3(server_version: str) -> bool:
    """A release older than 5.1, whose Stream Manager API runbook does not know:
    Red5's v3.1 API page sends "4.5 or earlier" to API 2.0, and before API 3.0
    launch configs and scale policies were files (the procedure's step 7);
    5.1.1 serves 3.0 (facts audit 57b, L2)."""
    return release_numbers(server_version)[:2] < (5, 1)


def java_major(version_banner: str) -> int | None:
    """Major version from `java -version` output (`"21.0.5"` -> 21, `"1.8.0_292"` -> 8)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_banner)
    if not match:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2):
        return int(match.group(2))
    return first


# lib/red5pro-6.2.0.406-RELEASE.jar: the release's numbers, then its build.
# Three numbers or more: a four-part release (12.2.0.2, FACTS section 4)
# naming its jar as 6.2.0 does would have four (facts audit 57b, M3).
_LIB_JAR = r"^red5pro-(\d+(?:\.\d+){2,})\.(\d+)-RELEASE\.jar$"


def installed_version(listing: list[str], lib: list[str] | None = None,
                      ini: str | None = None) -> str | None:
    """The release in a folder, as Red5's installer reads it: conf/red5.ini's
    server.version (`ini`, the file's text; FACTS-scenarios section 5), else
    its root marker (red5pro-server-X.Y.Z.bN-release, known in 6.2.0), else
    lib/red5pro-X.Y.Z.N-RELEASE.jar (`lib`, that folder's names; 5.1.1 ships
    no marker). `listing`: the folder's names."""
    found = re.search(_INI_VERSION, ini or "")
    if found:
        return found.group("version")
    for name in listing:
        version = distribution_version(name.strip())
        if version and not name.strip().endswith(".zip"):
            return version
    for name in lib or []:
        match = re.match(_LIB_JAR, name.strip())
        if match:
            return f"{match.group(1)}.b{match.group(2)}"
    return None


def unit_java_home(unit: str) -> str | None:
    """JAVA_HOME as a systemd unit sets it (Environment=JAVA_HOME=... or quoted)."""
    found = re.findall(r'^Environment="?JAVA_HOME=([^\s"]+)', unit, re.MULTILINE)
    return found[-1] if found else None


# An absolute path whose last folder is red5pro: the install a unit runs
# (RED5_HOME=, WorkingDirectory=, -cwd, ExecStart's red5pro.sh). Not
# /var/run/red5pro.pid, not ${RED5_HOME}/conf.
_INSTALL_PATH = r"(?<![\w.${}/-])(/(?:[\w.+-]+/)*red5pro)(?![\w.+-])"


def unit_install_paths(unit: str) -> list[str]:
    """Each install folder a unit names, once, in order. Red5's own units name
    /usr/local/red5pro outright (FACTS §3), whatever folder runbook is told."""
    return list(dict.fromkeys(re.findall(_INSTALL_PATH, unit)))


_DAEMON_JAR = r"commons-daemon-\d[\d.]*\.jar"
_CLASSPATH_FLAG = ("-cp", "-classpath")


def exec_start(unit: str) -> str | None:
    """The unit's last ExecStart= as systemd reads it: continued lines joined,
    blanks around the = allowed (Red5's own 9.0 unit writes `ExecStart = `)."""
    joined = re.sub(r"\\\n", " ", unit)
    starts = re.findall(r"^[ \t]*ExecStart[ \t]*=[ \t]*(.*)$", joined, re.MULTILINE)
    return starts[-1] if starts else None


def starts_jsvc(unit: str) -> bool:
    start = exec_start(unit) or ""
    return any(word.rsplit("/", 1)[-1] == "jsvc" for word in start.split())


def jsvc_wait(unit: str) -> int | None:
    """The seconds jsvc's `-wait N` in the unit's ExecStart lets the server
    take to start (jsvc waits only where N is 10 or more: None below that,
    and where the unit starts no jsvc or sets no -wait)."""
    if not starts_jsvc(unit):
        return None
    words = (exec_start(unit) or "").split()
    found = [int(after) for word, after in itertools.pairwise(words)
             if word == "-wait" and after.isdigit()]
    return found[-1] if found and found[-1] >= 10 else None


def jsvc_gives_up_after(wait: int) -> int:
    """The seconds jsvc's `-wait N` (10 or more) looks for the server's start
    before it gives up: ten looks, each a second and then N/10 s apart; past
    N/10 = 10, N/10 looks, 11 s apart. 70 s for -wait 60 (Apache Commons
    Daemon jsvc-unix.c, wait_child: `waittime = args->wait / 10; if (waittime
    > 10) { count = waittime; waittime = 10; }`, each look `sleep(1)` then
    `sleep(waittime)`; data README, shim-systemctl)."""
    step, count = wait // 10, 10
    if step > 10:
        count, step = step, 10
    return count * (1 + step)


# systemd's DefaultTimeoutStartSec (systemd-system.conf(5)): how long a start
# job may take where the unit sets no TimeoutStartSec= or TimeoutSec=. For a
# Type=forking unit the job lasts until ExecStart's process exits, which under
# jsvc's -wait is once the server has started or jsvc gave up. runbook reads
# the value in effect from systemd (start_limit's `shown`: drop-ins, an empty
# assignment and the host's DefaultTimeoutStartSec= are its to weigh); that
# the host keeps this default is inferred only where systemd gives no answer
# and the unit file sets none.
SYSTEMD_START_TIMEOUT_S = 90

_TIME_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1,
               "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
               "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
               "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
               "month": 2629800, "months": 2629800, "y": 31557600, "year": 31557600,
               "years": 31557600}


def _time_span(value: str) -> float | None:
    """A systemd time span in seconds ("90", "1min 30s": systemd.time(7)),
    math.inf for "infinity" and 0 (no timeout, systemd.service(5) for the
    first; 0 as systemd's parser takes it, inferred); None where it does not
    read, which systemd ignores, keeping what was set before."""
    value = value.strip()
    if value == "infinity":
        return math.inf
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    if not parts or re.sub(r"[\d.\sa-z]", "", value) or \
            any(unit and unit not in _TIME_UNITS for _, unit in parts):
        return None
    seconds = sum(float(number) * _TIME_UNITS[unit or "s"] for number, unit in parts)
    return math.inf if seconds == 0 else seconds


def start_timeout(unit: str) -> tuple[float, bool]:
    """systemd's start timeout for the unit, in seconds (math.inf for none),
    and whether the unit sets it: its last TimeoutStartSec= or TimeoutSec=
    (which sets the start's too: systemd.service(5)) that reads, else
    SYSTEMD_START_TIMEOUT_S."""
    found = re.findall(r"^[ \t]*Timeout(?:Start)?Sec[ \t]*=(.*)$", unit, re.MULTILINE)
    spans = [span for span in map(_time_span, found) if span is not None]
    return (spans[-1], True) if spans else (float(SYSTEMD_START_TIMEOUT_S), False)


class StartLimit(NamedTuple):
    """How long `systemctl start` of a jsvc unit with -wait waits for the
    server before it fails and systemd stops it: jsvc's wait or systemd's
    start timeout, whichever ends first."""
    seconds: float
    wait: int  # the unit's -wait
    jsvc_s: int  # jsvc_gives_up_after(wait)
    systemd_s: float  # start_timeout; math.inf for none
    systemd_set: bool  # the unit sets it (else systemd's default)

    @property
    def by_systemd(self) -> bool:
        return self.systemd_s < self.jsvc_s

    @property
    def words(self) -> str:
        """Which limit ran out, as the step says it."""
        default = "" if self.systemd_set else ", systemd's default"
        if self.by_systemd:
            return (f"systemd's start timeout (TimeoutStartSec, {self.systemd_s:g} s{default}) "
                    f"ran out, before jsvc's wait of {self.jsvc_s} s (the unit's -wait "
                    f"{self.wait})")
        return f"jsvc gave up waiting for it after {self.jsvc_s} s (the unit's -wait {self.wait})"


def start_timeout_shown(shown: str) -> float | None:
    """The start timeout in effect, in seconds (math.inf for none), from what
    `systemctl show -p TimeoutStartUSec red5pro` printed
    (`TimeoutStartUSec=1min 30s`, `=infinity`); None where it says none."""
    found = re.search(r"^TimeoutStartUSec=(.+)$", shown, re.MULTILINE)
    return _time_span(found.group(1)) if found else None


def start_limit(unit: str, shown: str = "") -> StartLimit | None:
    """The unit's StartLimit, where it starts jsvc with a -wait it waits on;
    None otherwise (systemctl start then returns once jsvc has forked).
    systemd's timeout is the one in effect where `shown` (start_timeout_shown)
    gives it, with its drop-ins (review 61b, F8: the unit file alone missed
    them), else the unit file's."""
    wait = jsvc_wait(unit)
    if wait is None:
        return None
    jsvc_s = jsvc_gives_up_after(wait)
    systemd_s, systemd_set = start_timeout(unit)
    in_effect = start_timeout_shown(shown)
    if in_effect is not None:
        # systemd does not say where it came from: the default only where
        # nothing in the file sets it and it is the default's value.
        systemd_set = systemd_set or in_effect != SYSTEMD_START_TIMEOUT_S
        systemd_s = in_effect
    return StartLimit(min(jsvc_s, systemd_s), wait, jsvc_s, systemd_s, systemd_set)


class Entry(NamedTuple):
    """One classpath entry inside the install."""

    written: str  # as the unit has it: ${RED5_HOME}/commons-daemon-1.0.15.jar
    inside: str  # relative to the install: commons-daemon-1.0.15.jar


def unit_classpath(unit: str, homes: Collection[str]) -> list[Entry] | None:
    """The entries of a jsvc unit's classpath that lie in the install (named
    through ${RED5_HOME} or one of `homes`, its paths). The last -cp counts, as
    for jsvc. [] for a unit that starts no jsvc (red5pro.sh, say); None for a
    jsvc unit whose classpath cannot be read."""
    if not starts_jsvc(unit):
        return []
    try:
        words = shlex.split(exec_start(unit) or "")
    except ValueError:  # an unbalanced quote
        return None
    given = [words[i + 1] for i, word in enumerate(words[:-1]) if word in _CLASSPATH_FLAG]
    if not given:
        return None
    prefixes = ("${RED5_HOME}/", "$RED5_HOME/", *(home.rstrip("/") + "/" for home in homes))
    entries = []
    for entry in given[-1].split(":"):
        inside = next((entry[len(p):] for p in prefixes if entry.startswith(p)), None)
        if inside:
            entries.append(Entry(entry, inside))
    return entries


class Swap(NamedTuple):
    """The one change runbook makes to a kept unit: its commons-daemon jar."""

    named: str  # the jar the unit names: commons-daemon-1.0.15.jar
    ours: str  # the one the release has: commons-daemon-1.1.0.jar
    written: str  # the entry as the unit has it

    @property
    def rewritten(self) -> str:
        return self.written.removesuffix(self.named) + self.ours


class Classpath(NamedTuple):
    """A kept unit set against the release it will start."""

    swap: Swap | None  # its commons-daemon jar, where the release has another
    missing: list[str]  # entries the release lacks that runbook cannot mend
    unread: bool  # a jsvc unit whose classpath runbook cannot read


def fit_classpath(unit: str, homes: Collection[str], release_has: Collection[str]) -> Classpath:
    """Set a unit kept from the old release (the new one ships none) against
    what the new release has in its install folder (`release_has`: relative
    paths). jsvc loads its DaemonLoader from the commons-daemon jar the
    classpath names, and each release ships its own version at its root
    (1.0.15 before 5.6.0 and 1.1.0 from 5.6.0 to 8.x, FACTS §3; 1.2.4 in the
    9.x sample, FACTS-scenarios §1): a jar the release lacks is
    replaced by the one it has, where it has exactly one. Anything else the
    release lacks is for the operator to mend."""
    entries = unit_classpath(unit, homes)
    if entries is None:
        return Classpath(None, [], unread=True)
    ours = sorted(name for name in release_has if re.fullmatch(_DAEMON_JAR, name))
    swap = None
    missing = []
    for entry in entries:
        if entry.inside in release_has:
            continue
        if re.fullmatch(_DAEMON_JAR, entry.inside) and len(ours) == 1 and swap is None:
            swap = Swap(entry.inside, ours[0], entry.written)
        else:
            missing.append(entry.inside)
    return Classpath(swap, missing, unread=False)


def classpath_sed(swap: Swap) -> str:
    """The sed expression (GNU sed) that makes that change and nothing else:
    the entry as the unit writes it, where an entry ends (a colon, a blank, a
    quote or the line's end)."""
    def pattern(text: str) -> str:
        return re.sub(r"([\\.*\[\]^$#])", r"\\\1", text)

    def replacement(text: str) -> str:
        return re.sub(r"([\\&#])", r"\\\1", text)

    return (f"s#{pattern(swap.written)}\\([:[:space:]\"']\\|$\\)#"
            f"{replacement(swap.rewritten)}\\1#g")


# What Red5's installers tune in the unit they copy from a release: the
# 10.9.2-11.x installer seds -Xms2g -Xmx2g to the memory it was given and
# LimitNOFILE=65536 to 1000000, and the service pages tell the operator to
# edit -Xms2g -Xmx2g (FACTS-scenarios §1, FACTS §3). The host's values, each
# carried into the release's unit where both units set it once. ASCII blanks
# only, line by line, as GNU sed reads them: the two must make the same edit.
# A flag may also start a line: one continued from the line before (a `\`
# at its end), which systemd joins to it.
_HEAP_SIZE = r"[0-9]+[kKmMgGtT]?"
_TUNED = {
    "-Xms": rf"(?m)(?:(?<=[ \t\r\f\v])|^)-Xms({_HEAP_SIZE})(?=[ \t\r\f\v]|$)",
    "-Xmx": rf"(?m)(?:(?<=[ \t\r\f\v])|^)-Xmx({_HEAP_SIZE})(?=[ \t\r\f\v]|$)",
    "LimitNOFILE=": r"(?m)^[ \t]*LimitNOFILE[ \t]*=[ \t]*([0-9]+|infinity)[ \t]*$",
}
# The same places for GNU sed (values are digits and a unit letter, or
# infinity: nothing sed reads as special).
_TUNED_SED = {
    "-Xms": r"s/\(^\|[[:space:]]\)-Xms{release}\([[:space:]]\|$\)/\1-Xms{host}\2/",
    "-Xmx": r"s/\(^\|[[:space:]]\)-Xmx{release}\([[:space:]]\|$\)/\1-Xmx{host}\2/",
    "LimitNOFILE=": r"s/^\([[:blank:]]*LimitNOFILE[[:blank:]]*=[[:blank:]]*\){release}"
                    r"\([[:blank:]]*\)$/\1{host}\2/",
}
# What the units in the sources ship (FACTS §3, FACTS-scenarios §1): a value
# other than these was set on the host. -Xms2g -Xmx2g, as every unit there
# ships them; LimitNOFILE 65536, as the JDK 8 page and the 10.x/11.x units
# ship it, and 1000000, as the docs' later unit for 9.0 and on ships it
# (facts audit 60b, L3).
_AS_SHIPPED = {"-Xms": frozenset({"2g"}), "-Xmx": frozenset({"2g"}),
               "LimitNOFILE=": frozenset({"65536", "1000000"})}


class Tuned(NamedTuple):
    """A setting the installed unit has otherwise than the release's."""

    setting: str  # -Xmx, LimitNOFILE=
    release: str  # as the release's unit has it: 2g
    host: str  # as the installed unit has it: 8g

    def __str__(self) -> str:
        return f"{self.setting}{self.host}"


def _open_files(value: str) -> float:
    return float("inf") if value == "infinity" else int(value)


def unit_tuning(installed: str, shipped: str) -> list[Tuned]:
    """The settings Red5's installers tune that `installed` sets otherwise than
    the release's unit `shipped`: what service-unit carries over. A limit on
    open files is carried only where it is higher: an old release's unit
    shipped 65536 where a later one ships 1000000 (second review)."""
    found = []
    for setting, pattern in _TUNED.items():
        have, ships = re.findall(pattern, installed), re.findall(pattern, shipped)
        if len(have) != 1 or len(ships) != 1 or have[0] == ships[0]:
            continue
        if setting == "LimitNOFILE=" and _open_files(have[0]) < _open_files(ships[0]):
            continue
        found.append(Tuned(setting, ships[0], have[0]))
    return found


def tuning_left_behind(installed: str, shipped: str) -> list[str]:
    """What the installed unit sets, other than as units ship it, that the
    release's unit does not set at all (its heap in red5pro.sh, say, FACTS
    §3), or sets more than once: not carried, so for the operator to set
    (second review: the heap went unsaid)."""
    left = []
    for setting, pattern in _TUNED.items():
        have, ships = re.findall(pattern, installed), re.findall(pattern, shipped)
        if len(have) == 1 and len(ships) != 1 and have[0] not in _AS_SHIPPED[setting]:
            left.append(f"{setting}{have[0]}")
    return left


def tuned_unit(shipped: str, tuning: Collection[Tuned]) -> str:
    """`shipped` with the host's values put in (as tuning_sed does on the host)."""
    for tuned in tuning:
        def put(found: re.Match[str], host: str = tuned.host) -> str:
            whole, start = found.group(0), found.start(1) - found.start(0)
            return whole[:start] + host + whole[start + len(found.group(1)):]

        shipped = re.sub(_TUNED[tuned.setting], put, shipped)
    return shipped


def tuning_sed(tuning: Collection[Tuned]) -> list[str]:
    """The sed expressions (GNU sed) that make `tuned_unit`'s changes on the host."""
    return [_TUNED_SED[tuned.setting].format(release=tuned.release, host=tuned.host)
            for tuned in tuning]


def _directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of each setting in a unit, continued lines joined
    (systemd's reading, enough to set two units side by side)."""
    found, section, line = [], "", ""
    for raw in unit.splitlines():
        if raw.endswith("\\"):
            line += raw[:-1] + " "
            continue
        line, whole = "", line + raw
        text = whole.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith("[") and text.endswith("]"):
            section = text
        elif "=" in text:
            key, value = text.split("=", 1)
            found.append((section, key.strip(), " ".join(value.split())))
    return found


def _assignments(value: str) -> list[str] | None:
    """The VAR=value words of an Environment= line, quotes read as systemd
    reads them (a quoted word may hold blanks); None where a quote does not
    close, so no piece of a value is taken for a name."""
    try:
        return [word for word in shlex.split(value) if "=" in word]
    except ValueError:
        return None


# What a unit line says as Red5's installers tune it: service-unit carries
# these (unit_tuning), so they are not named again here.
_HEAP = rf"-Xm[sx]{_HEAP_SIZE}"


def unit_changes_left(installed: str, released: str, shipped: str) -> list[str]:
    """What the host changed in its unit since its release shipped it as
    `released` (Red5's installers copy it from the install's root, FACTS §3),
    beyond the tuning service-unit carries, that the new release's unit
    `shipped` does not have: lost with it unless set again by hand. Each is
    named by its flag, variable or key, never by its value (a unit may keep
    a secret in an Environment=). A variable the new unit sets (JAVA_HOME)
    is the release's to set."""
    was, new = _directives(released), _directives(shipped)

    def words(units: list[tuple[str, str, str]], section: str, key: str) -> set[str]:
        return {word for s, k, value in units if (s, k) == (section, key)
                for word in value.split()}

    def assignments(units: list[tuple[str, str, str]], section: str) -> set[str]:
        return {word for s, k, value in units if (s, k) == (section, "Environment")
                for word in _assignments(value) or []}

    left: list[str] = []
    for section, key, value in _directives(installed):
        if (section, key, value) in was or (section, key, value) in new \
                or key == "LimitNOFILE":
            continue
        if key == "Environment":
            released_words = assignments(was, section)
            newly_set = {word.split("=", 1)[0] for word in assignments(new, section)}
            said = _assignments(value)
            if said is None:
                left.append("Environment (a line whose quotes do not close)")
                continue
            left += [f"Environment {name}" for word in said if word not in released_words
                     and (name := word.split("=", 1)[0]) not in newly_set]
        elif key.startswith("Exec"):
            known = words(was, section, key) | words(new, section, key)
            added = [word for word in value.split()
                     if word not in known and not re.fullmatch(_HEAP, word)]
            # A flag by its name, up to its value (-Dkey=value, -Dkey:value);
            # a word that is no flag (a flag's value given apart, `-user red5`)
            # could be anything, so only that there is one.
            left += [f"{key} {re.split('[=:]', word, maxsplit=1)[0]}" for word in added
                     if word.startswith("-")]
            if any(not word.startswith("-") for word in added):
                left.append(f"{key} arguments")
        else:
            left.append(key)
    return list(dict.fromkeys(left))


# A Red5 Pro install's own folders: a zip that holds them at its root is flat.
_INSTALL_FOLDERS = ("conf/", "webapps/")


def _is_flat(names: list[str]) -> bool:
    return any(name.startswith(_INSTALL_FOLDERS) for name in names)


def layout(zip_path: Path) -> tuple[str, bool]:
    """The folder a distribution zip's release ends up in beside red5pro, and
    whether the zip is flat (the install's folders at its root, no top folder).

    Red5's installer takes either form, so the folder cannot be assumed
    (FACTS §4). A zip with one red5pro-server-* top folder unpacks into it; a
    flat one is unpacked into a folder runbook names after its release
    (red5pro-server-<version>-release, as 6.2.0's own is named: a choice),
    else after the zip. Anything else is refused: the promote step renames
    exactly that folder, and nothing may land in red5pro or bak.red5pro."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [name for name in archive.namelist() if name.strip("/")]
    except zipfile.BadZipFile:
        raise ValueError(f"{zip_path.name} is not a readable zip; download it again") from None
    if _is_flat(names):
        version = zip_version(zip_path)
        folder = f"red5pro-server-{version}-release" if version else \
            zip_path.name.removesuffix(".zip")
        if folder in ("red5pro", "bak.red5pro") or folder.startswith("."):
            raise ValueError(f"{zip_path.name} holds the install's folders at its top and "
                             f"would be unpacked into {folder}; rename the zip after its "
                             "release (red5pro-server-X.Y.Z.bN-release.zip)")
        return folder, True
    tops = {name.split("/", 1)[0] for name in names}
    folders = sorted(t for t in tops if t)
    if len(folders) == 1 and not folders[0].startswith("red5pro-server-"):
        raise ValueError(f"{zip_path.name} unpacks into {folders[0]}, not a red5pro-server-* "
                         "folder")
    if len(folders) != 1:
        shown = ", ".join(folders[:5]) or "nothing"
        raise ValueError(
            f"{zip_path.name} should unpack into one red5pro-server-* folder, or hold a "
            f"Red5 Pro install's conf and webapps folders, but holds {shown}"
        )
    return folders[0], False


def zip_names(zip_path: Path, inside: str) -> set[str]:
    """What a release's zip holds under `inside` (its top folder and a slash,
    or nothing for a flat zip), relative to it, folders without their slash:
    also those the zip has no entry of its own for, as many zip tools write."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return set()
    found: set[str] = set()
    for name in names:
        rel = name[len(inside):].strip("/") if name.startswith(inside) else ""
        parts = rel.split("/") if rel else []
        found.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return found


def zip_member(zip_path: Path, member: str) -> bytes | None:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            return archive.read(member)
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


# The cloud-controller beans' classes in the webapp's applicationContext.xml,
# and the cloud each is (FACTS §4: the 6.2.0 file, its commented-out beans).
CONTROLLER_CLOUDS = {
    "com.red5pro.services.cloud.aws.component.AWSInstanceController": "AWS",
    "com.red5pro.services.cloud.microsoft.component.AzureComputeController": "Azure",
    "com.red5pro.services.cloud.google.component.ComputeInstanceController": "Google Cloud",
    "com.red5pro.cloud.limelight.controllers.LimelightCloudController": "Limelight",
    "com.red5pro.services.simulatedcloud.generic.component.GenericSimulatedCloudController":
        "the simulated cloud",
    "com.red5pro.services.terraform.component.TerraformCloudController": "Terraform",
}


def _class_entry(name: str) -> str:
    return name.replace(".", "/") + ".class"


def _jar_entries(jar: Path) -> set[str] | None:
    try:
        with zipfile.ZipFile(jar) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


class JarFinding(NamedTuple):
    """What `jar_check` found: `text`, and whether it refuses the jar (else
    it is only a warning)."""

    text: str
    refuses: bool


def jar_check(jar: Path, bean_class: str | None, config: str | None) -> JarFinding | None:
    """Whether `jar` can be the cloud-controller jar, from one read of it.

    Refused: it does not open as a zip (a jar is one), or it holds another
    cloud's controller class (CONTROLLER_CLOUDS) and not `bean_class`, the
    live install's, which carry-over makes the new release's (trial 57, F10:
    a Google jar for an AWS install, found only in the downtime, by
    start-service). That a controller jar holds its bean's class as a plain
    entry is inferred (no source lists a jar's entries): a jar with none of
    the known classes is only warned of, as one laid out otherwise than
    runbook looks (its premise is inferred) or not a controller jar at all;
    start-service, which checks the new release's controller, tells.
    `bean_class` None checks the zip alone; so does the Dummy bean, whose
    class ships with the release, in no controller jar. The release the jar
    was built for is not compared: Red5 pairs them loosely (FACTS-scenarios
    section 0). `config`, where the refusal does not name the setting
    already. None: nothing to say."""
    setting = f"[artifacts] cloud_controller in {config}" if config \
        else "artifacts.cloud_controller"
    # A run reads its config once (re-trial 57b, F1: [t] after editing it
    # read the old jar again): say how each fix is read.
    then = (f". The config is read once: after changing it, quit and start again with "
            f"--resume; or put the right jar at {jar} and try the step again") if config else ""
    names = _jar_entries(jar)
    if names is None:
        return JarFinding(f"{jar} is not a jar (it does not open as a zip): download the cloud "
                          "controller jar again" + (f", or set {setting} to another" if config
                                                    else ", or correct the path") + then,
                          refuses=True)
    if bean_class is None or bean_class == DUMMY_CONTROLLER or _class_entry(bean_class) in names:
        return None
    other = sorted(name for name in CONTROLLER_CLOUDS if _class_entry(name) in names)
    if not other:
        return JarFinding(
            f"warning: runbook could not find {bean_class}, the live install's cloud "
            f"controller, in {jar}, nor any other cloud's: make sure it is the jar for that "
            "cloud; start-service will tell, once the new release runs", refuses=False)
    clouds = " and ".join(dict.fromkeys(CONTROLLER_CLOUDS[name] for name in other))
    return JarFinding(
        f"{jar} holds {', '.join(other)}, {clouds}'s cloud controller, and not "
        f"{bean_class}, the live install's, so the new release would not start with it: "
        f"set {setting} to the jar for the live install's cloud{then}", refuses=True)


# --- the cloud-controller bean of applicationContext.xml ---------------------

_COMMENT = r"(?s)<!--.*?-->"
# The whole bean: to its </bean>, or its own tag where that closes itself. (A
# bean's first property closing itself ended it here once: the rest of the
# bean, its other ${key}s, went unread.)
_BRIDGE = (r"(?s)<bean\s+id=\"apiBridge\"\s+class=\"(?P<cls>[^\"]+)\"[^>]*?"
           r"(?:/>|>.*?</bean>)")

DUMMY_CONTROLLER = "com.red5pro.services.streammanager.cloud.sample.component.DummyCloudController"
# What the API's cloudcontroller call answers while the Dummy controller is the
# active one (FACTS-scenarios §5, commons CloudPlatform): a stream manager on
# it launches no node.
DUMMY_ANSWER = "Streammanager Placebo"
# The cloud each answer of that call names: the docs' table (FACTS §2.3) and
# the 5.x/6.x commons CloudPlatform strings (FACTS-scenarios §5), which differ
# for Terraform and the simulated cloud. Two releases may word one cloud two
# ways, so answers are compared by the cloud they name.
_CLOUD_OF_ANSWER = {
    "Amazon Web Services": "AWS",
    "Google Compute": "Google Cloud",
    "Microsoft Azure": "Azure",
    "Terraform Cloud Service": "Terraform",
    "Terraform-Cloud-Platform": "Terraform",
    "Simulated Cloud Services": "the simulated cloud",
    "Simulated-Cloud-Platform": "the simulated cloud",
}


def cloud_of(answer: str | None) -> str | None:
    """The cloud a cloudcontroller answer names; None for one not in the facts."""
    return _CLOUD_OF_ANSWER.get(answer.strip()) if answer else None


def _active_bridges(xml: str) -> list[re.Match[str]]:
    comments = [m.span() for m in re.finditer(_COMMENT, xml)]
    return [m for m in re.finditer(_BRIDGE, xml)
            if not any(start <= m.start() < end for start, end in comments)]


def active_controller(xml: str) -> str | None:
    """Class of the cloud-controller bean that is not commented out."""
    active = _active_bridges(xml)
    return active[0].group("cls") if len(active) == 1 else None


def carry_controller(live_xml: str, new_xml: str) -> str:
    """The new applicationContext.xml with the live install's controller active.

    A fresh distribution ships the dummy controller active and the real ones
    commented out; the live one's class is uncommented in the new file (so the
    bean keeps any properties the new release added) and the dummy is
    commented out in its place.
    """
    wanted = active_controller(live_xml)
    if wanted is None:
        raise ValueError("the live applicationContext.xml has no single active apiBridge bean")
    active = _active_bridges(new_xml)
    if len(active) == 1 and active[0].group("cls") == wanted:
        return new_xml
    text = new_xml
    for match in reversed(active):
        text = text[: match.start()] + f"<!-- {match.group(0)} -->" + text[match.end():]
    for comment in re.finditer(_COMMENT, text):
        inner = comment.group(0)[4:-3]
        bean = re.search(_BRIDGE, inner)
        if bean and bean.group("cls") == wanted:
            return text[: comment.start()] + inner.strip() + text[comment.end():]
    raise ValueError(f"the new applicationContext.xml has no bean for {wanted} to activate")


# ${key}, or ${key:default}: a placeholder the webapp's PropertyPlaceholderConfigurer
# fills from red5-web.properties when it starts; with a default (Spring's ':'
# separator) it needs no key.
_PLACEHOLDER = r"\$\{([^}:]+)(:[^}]*)?\}"


def bean_keys(xml: str) -> list[str]:
    """The red5-web.properties keys the active cloud-controller bean names as
    ${key} without a default, in its order: each one the file leaves unset
    keeps the webapp from starting, as its PropertyPlaceholderConfigurer does
    not ignore what it cannot resolve (6.2.0's applicationContext.xml; Spring's
    PlaceholderConfigurerSupport). [] without a single active bean."""
    active = _active_bridges(xml)
    if len(active) != 1:
        return []
    found = [m.group(1).strip() for m in re.finditer(_PLACEHOLDER, active[0].group(0))
             if m.group(2) is None]
    return list(dict.fromkeys(found))


# A bean's <property name="..." value="..."/>, its attributes in either order.
_PROPERTY = r"<property\b[^>]*>"
_NAME = r"\bname\s*=\s*\"([^\"]*)\""
_VALUE = r"\bvalue\s*=\s*\"([^\"]*)\""


def _keys_by_property(bean: str) -> dict[str, str]:
    """Property name -> the key its value names as ${key} (without a
    default), for each property of one bean's text that names one."""
    found: dict[str, str] = {}
    for tag in re.finditer(_PROPERTY, bean):
        name, value = re.search(_NAME, tag.group(0)), re.search(_VALUE, tag.group(0))
        key = re.fullmatch(_PLACEHOLDER, value.group(1).strip()) if value else None
        if name and key and key.group(2) is None:
            found.setdefault(name.group(1).strip(), key.group(1).strip())
    return found


def _written_properties(bean: str) -> set[str]:
    """The properties of one bean's text whose value is written out, not a
    ${...} placeholder."""
    found = set()
    for tag in re.finditer(_PROPERTY, bean):
        name, value = re.search(_NAME, tag.group(0)), re.search(_VALUE, tag.group(0))
        if name and value and not re.search(_PLACEHOLDER, value.group(1)):
            found.add(name.group(1).strip())
    return found


def new_bean_reads(live_xml: str, new_xml: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the controller bean carry-over activates in the new release (the
    live install's, carry_controller) reads, from one carry-over: key -> the
    bean's class (its simple name) for every key it names, as the new release
    wires it; and key -> the key the live install's bean read for the same
    property, where the two differ (5.1.1's Simulated bean reads
    recycleDeadNodes from ${instancecontroller.recycleDeadNodes}, 6.2.0's from
    ${managed.recycleDeadNodes}: the live file's value of the old key is the
    one the install ran with). Both {} where carry-over could not activate a
    bean: it says why itself."""
    try:
        merged = carry_controller(live_xml, new_xml)
    except ValueError:
        return {}, {}
    bean = (active_controller(merged) or "").rsplit(".", 1)[-1]
    needs = dict.fromkeys(bean_keys(merged), bean)
    live, new = _active_bridges(live_xml), _active_bridges(merged)
    if len(live) != 1 or len(new) != 1:
        return needs, {}
    # Here: the CLI's first paint imports this module, not the properties package.
    from runbook.properties.model import written_in_the_live_bean

    was = _keys_by_property(live[0].group(0))
    written = _written_properties(live[0].group(0))
    before: dict[str, str] = {}
    for name, key in _keys_by_property(new[0].group(0)).items():
        if name in was and was[name] != key:
            before.setdefault(key, was[name])
        elif name in written:
            # Off-procedure (FACTS section 4): the live value is in the XML.
            before.setdefault(key, written_in_the_live_bean(name))
    return needs, before


def keys_read_before(live_xml: str, new_xml: str) -> dict[str, str]:
    """new_bean_reads's second half: the key the live bean read instead."""
    return new_bean_reads(live_xml, new_xml)[1]


def keys_the_new_bean_reads(live_xml: str, new_xml: str) -> dict[str, str]:
    """new_bean_reads's first half: every key the new bean reads."""
    return new_bean_reads(live_xml, new_xml)[0]
