"""The rehearsal host's file system: a directory tree shaped like the real host.

A sandbox holds what an operator meets on a Stream Manager host that is due
for an upgrade, and what they bring along for it::

    SANDBOX/usr/local/red5pro/           the live install: Red5 Pro 6.2.0 b406, SM API 3.1
    SANDBOX/lib/systemd/system/red5pro.service
    SANDBOX/home/USER/  SANDBOX/tmp/  SANDBOX/run/
    SANDBOX/.operator/                   the operator's downloads (distribution zip, jar)
    SANDBOX/.rehearsal/                  keys, known_hosts, state.json, shims, fake cloud, lock

Shell commands on the host see these as plain absolute paths, so everything the
runbook does (unzip, mv, cp, rm) really happens to files here. Nothing in this
module reads /work/shared or any other reference copy at run time: the
templates ship with the package under ``data/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import string
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from xml.etree import ElementTree

import javaproperties

from runbook.rehearsal import OPERATOR_DIRNAME, SANDBOX_ENV, STATE_DIRNAME
from runbook.rehearsal.scenarios import Release, Scenario

WEBINF = "webapps/streammanager/WEB-INF"

# Shipped shim file -> where the sandbox needs it (relative to .rehearsal/).
SHIMS = {
    "shim-sudo": "bin/sudo",
    "shim-systemctl": "bin/systemctl",
    "shim-red5pro-run": "libexec/red5pro-run",
}

AWS = "com.red5pro.services.cloud.aws.component.AWSInstanceController"
DUMMY = "com.red5pro.services.streammanager.cloud.sample.component.DummyCloudController"

GOOGLE = "com.red5pro.services.cloud.google.component.ComputeInstanceController"
AZURE = "com.red5pro.services.cloud.microsoft.component.AzureComputeController"
SIMULATED = "com.red5pro.services.simulatedcloud.generic.component.GenericSimulatedCloudController"
TERRAFORM = "com.red5pro.services.terraform.component.TerraformCloudController"

# A cloud-controller bean: its class, the label above it (Red5's comment, as
# its files have it: `<!-- AWS CONTROLLER -->`, on which Red5's installer
# seds; facts audit 58b F11), and the properties it is wired with (property
# name, the red5-web.properties key of its ${...}).
Bean = tuple[str, str, list[tuple[str, str]]]

_AWS_5_1 = [("accessKey", "aws.accessKey"), ("accessSecret", "aws.accessSecret"),
            ("ec2KeyPairName", "aws.ec2KeyPairName"),
            ("ec2SecurityGroup", "aws.ec2SecurityGroup"), ("defaultZone", "aws.defaultzone"),
            ("defaultVPC", "aws.defaultVPC"), ("vpcName", "aws.vpcName"),
            ("operationTimeoutMilliseconds", "aws.operationTimeoutMilliseconds"),
            ("faultZoneBlockMilliseconds", "aws.faultZoneBlockMilliseconds")]
_AZURE = [("resourceGroupName", "az.resourceGroupName"),
          ("resourceGroupRegion", "az.resourceGroupRegion"),
          ("resourceNamePrefix", "az.resourceNamePrefix"),
          ("instanceNamePrefix", "instancecontroller.instanceNamePrefix"),
          ("clientId", "az.clientId"), ("clientKey", "az.clientKey"),
          ("tenantId", "az.tenantId"), ("subscriptionId", "az.subscriptionId"),
          ("vmUsername", "az.vmUsername"), ("vmPassword", "az.vmPassword"),
          ("defaultSubnetName", "az.defaultSubnetName"),
          ("operationTimeoutMilliseconds", "az.operationTimeoutMilliseconds"),
          ("quickOperationResponse", "az.quickOperationResponse"),
          ("quickResponseCheckInitialDelay", "az.quickResponseCheckInitialDelay"),
          ("apiLogLevel", "az.apiLogLevel")]
_GOOGLE_5_1 = [("project", "compute.project"), ("defaultZone", "compute.defaultzone"),
               ("defaultDiskType", "compute.defaultdisk"),
               ("operationTimeoutMilliseconds", "compute.operationTimeoutMilliseconds")]
_SIMULATED = [("operationTimeoutMilliseconds", "managed.operationTimeoutMilliseconds"),
              ("regionNames", "managed.regionNames"),
              ("availabilityZoneNames", "managed.availabilityZoneNames")]
_DUMMY: Bean = (DUMMY, "Default CONTROLLER", [])

# Each release's cloud-controller beans, wired as its applicationContext.xml
# wires them (data README; the Limelight bean is left out of all). 5.1.1: AM's
# file. 6.2.0: AS's (shared/red5pro/applicationContext.xml.6.2.0.b406), which
# adds aws.forUsGovRegions and compute.network, moves the Simulated bean's
# recycleDeadNodes to a managed.* key and adds the Terraform bean. API 4.0
# (10.9, 11.1): no file was read; 6.2.0's, with the Terraform bean of the
# Terraform service (inferred).
CONTROLLER_BEANS: dict[str, list[Bean]] = {
    "5.1.1": [
        _DUMMY,
        (AWS, "AWS CONTROLLER", _AWS_5_1),
        (AZURE, "AZURE CONTROLLER", _AZURE),
        (GOOGLE, "GOOGLE COMPUTE CONTROLLER", _GOOGLE_5_1),
        (SIMULATED, "SIMULATED-CLOUD CONTROLLER",
         [*_SIMULATED, ("recycleDeadNodes", "instancecontroller.recycleDeadNodes")]),
    ],
    "6.2.0": [
        _DUMMY,
        (AWS, "AWS CONTROLLER", [*_AWS_5_1, ("forUsGovRegions", "aws.forUsGovRegions")]),
        (AZURE, "AZURE CONTROLLER", _AZURE),
        (GOOGLE, "GOOGLE COMPUTE CONTROLLER", [*_GOOGLE_5_1, ("network", "compute.network")]),
        (SIMULATED, "SIMULATED-CLOUD CONTROLLER",
         [*_SIMULATED, ("recycleDeadNodes", "managed.recycleDeadNodes")]),
        (TERRAFORM, "TERRAFORM-CLOUD CONTROLLER",
         [("operationTimeoutMilliseconds", "terra.operationTimeoutMilliseconds"),
          ("regionNames", "terra.regionNames"), ("availabilityZoneNames", "terra.regionNames"),
          ("instanceName", "terra.instanceName"), ("token", "terra.token"),
          ("sshkey", "terra.sshkey"), ("parallelism", "terra.parallelism")]),
    ],
}
CONTROLLER_BEANS["api4"] = [
    *CONTROLLER_BEANS["6.2.0"][:-1],
    (TERRAFORM, "TERRAFORM-CLOUD CONTROLLER",
     [("host", "terra.host"), ("port", "terra.port"), ("token", "terra.token"),
      ("regionNames", "terra.regionNames"), ("instanceName", "terra.instanceName")]),
]


@dataclass(frozen=True)
class LiveSecrets:
    """The values an operator filled into the live install, generated fresh
    for every new sandbox so no two rehearsals share a credential."""

    db_password: str
    instance_prefix: str
    cluster_password: str
    node_api_token: str
    api_token: str
    aws_access_key: str
    aws_access_secret: str
    license_key: str
    # config.dbUser: the account both rehearsal databases have.
    db_user: str = "smadmin"

    @classmethod
    def generate(cls) -> LiveSecrets:
        upper = string.ascii_uppercase + "234567"
        secret_chars = string.ascii_letters + string.digits + "+/"
        return cls(
            db_password=secrets.token_urlsafe(18),
            instance_prefix="rehearsal" + secrets.token_hex(2),
            cluster_password=secrets.token_urlsafe(12),
            node_api_token=secrets.token_urlsafe(24),
            api_token=secrets.token_urlsafe(24),
            aws_access_key="AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
            # A real secret key has '/' and '+' in it; keeping them tests that
            # they survive every copy and merge.
            aws_access_secret="".join(secrets.choice(secret_chars) for _ in range(40)),
            license_key="-".join(secrets.token_hex(2).upper() for _ in range(4)),
        )


# --- paths ---------------------------------------------------------------------------


def state_dir(sandbox: Path) -> Path:
    return sandbox / STATE_DIRNAME


def operator_dir(sandbox: Path) -> Path:
    return sandbox / OPERATOR_DIRNAME


def install_dir(sandbox: Path) -> Path:
    return sandbox / "usr" / "local"


def red5_home(sandbox: Path) -> Path:
    return install_dir(sandbox) / "red5pro"


def unit_file(sandbox: Path) -> Path:
    return sandbox / "lib" / "systemd" / "system" / "red5pro.service"


def cgroup_root(sandbox: Path) -> Path:
    """The rehearsal host's stand-in for the cgroup tree (/sys/fs/cgroup): a
    real control group needs root and cgroup delegation, which neither a test
    machine nor an operator's rehearsal has. The systemctl shim keeps the
    unit's group there (data README), and `runbook rehearse` points runbook
    at it (Settings.cgroup_root)."""
    return sandbox / "sys" / "fs" / "cgroup"


def home_dir(sandbox: Path, user: str) -> Path:
    return sandbox / "home" / user


def bin_dir(sandbox: Path) -> Path:
    return state_dir(sandbox) / "bin"


# --- the rehearsal's own state -------------------------------------------------------
# Keys, the API token in state.json, the fake cloud and the operator's journals
# are the rehearsal's secrets and state: only their owner may read them. The
# fake live install is not state: it keeps the modes a real host has.

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# A release file's mode that makes it a symlink, its content the target.
SYMLINK = stat.S_IFLNK | 0o777

# Folders under .rehearsal/ that something other than this module creates later
# (the fake cloud its db/, the systemctl shim jvm/bin, rehearsed faults their
# flags): made here first, private, since `mkdir -p` and exist_ok leave an
# existing folder's mode alone.
_STATE_SUBDIRS = ("bin", "libexec", "db", "jvm", "jvm/bin", "faults")
# The fake cloud's lock, which it opens with the default mode when missing.
_STATE_FILES = ("state.lock",)


def make_private_dir(path: Path) -> None:
    """Create ``path`` owner-only if it is missing (missing parents get the
    default mode: they are the caller's, not the rehearsal's state)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def write_private(path: Path, content: str | bytes, mode: int = PRIVATE_FILE) -> None:
    """Replace ``path`` in one step with a file that never had a looser mode."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = path.with_name(path.name + ".new")
    # A leftover .new from a killed run could have any mode; O_EXCL makes sure
    # the mode given here is the one the file is born with.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _restrict(path: Path, is_dir: bool) -> None:
    # A service adopted from an earlier rehearsal may be replacing its files
    # meanwhile; one that is gone needs no tightening.
    with contextlib.suppress(FileNotFoundError):
        info = path.lstat()
        # chmod would follow a symlink (jvm/bin/java points at the Python
        # interpreter), and a Linux symlink has no mode of its own.
        if stat.S_ISLNK(info.st_mode):
            return
        mode = stat.S_IMODE(info.st_mode)
        wanted = PRIVATE_DIR if is_dir else mode & ~0o077
        if mode != wanted:
            path.chmod(wanted)


def _tighten(top: Path) -> None:
    _restrict(top, is_dir=True)
    # Top-down, so a folder is opened to its owner before the walk lists it.
    for folder, dirs, files in os.walk(top):
        for name in dirs:
            _restrict(Path(folder) / name, is_dir=True)
        for name in files:
            _restrict(Path(folder) / name, is_dir=False)


def secure_state(sandbox: Path) -> None:
    """Make the rehearsal's state folders and lay down the files other code
    creates later, all owner-only; tighten what an older runbook left looser."""
    for top in (state_dir(sandbox), operator_dir(sandbox)):
        make_private_dir(top)
    for rel in _STATE_SUBDIRS:
        make_private_dir(state_dir(sandbox) / rel)
    for rel in _STATE_FILES:
        os.close(os.open(state_dir(sandbox) / rel, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for top in (state_dir(sandbox), operator_dir(sandbox)):
        _tighten(top)


# --- templates -----------------------------------------------------------------------


def data_text(name: str) -> str:
    return resources.files("runbook.rehearsal").joinpath("data", name).read_text("utf-8")


_PROPERTY_LINE = re.compile(r"^(?P<hash>#?)(?P<key>[A-Za-z0-9_.\-]+)=(?P<value>.*)$")


def fill_properties(
    template: str, values: dict[str, str], after: dict[str, tuple[str, str]] | None = None
) -> str:
    """Set keys in a shipped .properties template, line by line.

    A key that the template ships commented out (``#aws.accessKey=...``) is
    uncommented, which is what an operator does. ``after`` adds keys the
    template lacks, each right after an existing key, so the file keeps the
    shape of a hand-edited one. Every key asked for must exist: a template
    that lost a key is a bug here, not something to paper over.
    """
    pending = dict(values)
    extra = dict(after or {})
    out: list[str] = []
    for line in template.splitlines():
        match = _PROPERTY_LINE.match(line)
        key = match.group("key") if match else None
        if key is not None and key in pending:
            out.append(f"{key}={javaproperties.escape(pending.pop(key))}")
        else:
            out.append(line)
        for new_key, (anchor, value) in list(extra.items()):
            if key == anchor and not (match and match.group("hash")):
                out.append(f"{new_key}={javaproperties.escape(value)}")
                del extra[new_key]
    missing = sorted(pending) + sorted(extra)
    if missing:
        raise ValueError(f"properties template lacks the keys {', '.join(missing)}")
    return "\n".join(out) + "\n"


def old_properties(release: Release, secrets_: LiveSecrets, old_db: tuple[str, int]) -> str:
    """The live install's red5-web.properties: its release's shipped template,
    filled in the way an operator would."""
    values = {
        "config.dbHost": old_db[0],
        "config.dbPort": str(old_db[1]),
        "config.dbUser": secrets_.db_user,
        "config.dbPass": secrets_.db_password,
        "instancecontroller.instanceNamePrefix": secrets_.instance_prefix,
        "cluster.password": secrets_.cluster_password,
        "streammanager.ip": "",
        "aws.defaultzone": "us-east-1a",
        "aws.operationTimeoutMilliseconds": "200000",
        "aws.accessKey": secrets_.aws_access_key,
        "aws.accessSecret": secrets_.aws_access_secret,
        "aws.ec2KeyPairName": "red5pro-sm-nodes",
        "aws.ec2SecurityGroup": "red5pro-nodes-sg",
        "aws.defaultVPC": "false",
        "aws.vpcName": "red5pro-vpc",
        "aws.faultZoneBlockMilliseconds": "3600000",
        "serverapi.accessToken": secrets_.node_api_token,
        "rest.administratorToken": secrets_.api_token,
        # WebRTC clients go through the stream manager in this deployment.
        "proxy.enabled": "true",
    }
    template = data_text(release.properties)
    if "aws.forUsGovRegions" in template:  # not in 5.1.1
        values["aws.forUsGovRegions"] = "false"
    after: dict[str, tuple[str, str]] = {}
    if "instancecontroller.recycleDeadNodes" not in template:
        # A key 5.1.1 had and 6.2.0 dropped; an operator's file carried over
        # from 5.1 still has it, so the merge has a removed key to report.
        after["instancecontroller.recycleDeadNodes"] = (
            "instancecontroller.replaceDeadClusters", "true")
    return fill_properties(template, values, after)


def application_context(active: str, release: Release) -> str:
    """`release`'s applicationContext.xml with ``active`` as the one live
    apiBridge bean and every other controller bean commented out."""
    beans = CONTROLLER_BEANS[release.wiring]
    blocks: list[str] = []
    for bean_class, label, props in beans:
        wired = [f'<property name="{name}" value="${{{key}}}" />' for name, key in props]
        if bean_class == active:
            lines = ['<bean id="apiBridge"', f'\tclass="{bean_class}"',
                     '\tinit-method="initialize">', *("\t" + line for line in wired), "</bean>"]
            body = "\n".join("\t" + line for line in lines)
            blocks.append(f"\t<!-- {label} -->\n\n{body}\n")
        else:
            # Commented out as Red5 ships it: the comment opens on the bean's
            # first line and closes after its end tag.
            lines = [f'<!-- <bean id="apiBridge" class="{bean_class}"',
                     '\tinit-method="initialize">', *("\t" + line for line in wired),
                     "\t</bean> -->"]
            body = "\n".join("\t" + line for line in lines)
            blocks.append(f"\t<!-- {label} -->\n{body}\n")
    if active not in {bean for bean, _, _ in beans}:
        raise ValueError(f"{release.version} has no cloud controller {active}")
    return data_text("applicationContext.xml.in").replace("@CONTROLLERS@", "\n".join(blocks))


def active_controllers(context_xml: str) -> list[str]:
    """Classes of the apiBridge beans that are not commented out (a working
    install has exactly one)."""
    root = ElementTree.fromstring(context_xml)
    return [
        (element.get("class") or "").strip()
        for element in root.iter()
        if element.tag.rsplit("}", 1)[-1] == "bean" and element.get("id") == "apiBridge"
    ]


def web_xml(api_version: str) -> str:
    return data_text("web.xml.in").replace("@API_VERSION@", api_version)


# Red5's SSL page (DC `installation/ssl/red5-pro-ssl-configure-to-run-with-ssl.md`):
# the keystore and truststore keys as shipped, and as its example edits them,
# with HTTPS moved to 443 (data README).
_SHIPPED_SSL = {"https.port": "5443",
                "rtmps.keystorepass": "password",
                "rtmps.keystorefile": "conf/keystore.jks",
                "rtmps.truststorepass": "password",
                "rtmps.truststorefile": "conf/truststore.jks"}
_EDITED_SSL = {"https.port": "443",
               "rtmps.keystorepass": "changeit",
               "rtmps.keystorefile": "/etc/letsencrypt/live/ssl.example.com/keystore.jks",
               "rtmps.truststorepass": "changeit",
               "rtmps.truststorefile": "/etc/letsencrypt/live/ssl.example.com/truststore.jks"}


def red5_properties(api_port: int, *, ssl_edited: bool = False) -> str:
    """conf/red5.properties as shipped, or (`ssl_edited`) as the live install
    has it: SSL set up by Red5's SSL page, an edit runbook does not carry and
    carry-over names (review 60b, H1)."""
    # The fake service binds http.host:http.port; the other ports are the ones
    # FACTS §3 gives (https.port in this file, RTMP on 1935), so the file
    # reads like the real one. Its comment line is inferred; http.host and
    # rtmp.port are AS's conf/red5.properties keys (data README).
    ssl = _EDITED_SSL if ssl_edited else _SHIPPED_SSL
    return (
        "# Red5 server network settings (rehearsal host)\n"
        "http.host=127.0.0.1\n"
        f"http.port={api_port}\n"
        f"https.port={ssl['https.port']}\n"
        "rtmp.port=1935\n"
        + "".join(f"{key}={value}\n" for key, value in ssl.items() if key != "https.port")
    )


def jar_bytes(title: str, version: str, classes: list[str], main_class: str | None = None) -> bytes:
    """A small but genuine jar: a zip with a manifest and class-file stubs."""
    manifest = [
        "Manifest-Version: 1.0",
        f"Implementation-Title: {title}",
        f"Implementation-Version: {version}",
        "Implementation-Vendor: Infrared5, Inc. (rehearsal stand-in)",
        "Created-By: runbook rehearsal",
    ]
    if main_class:
        manifest.append(f"Main-Class: {main_class}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "\r\n".join(manifest) + "\r\n\r\n")
        for name in classes:
            # Class-file magic and a Java 11 version, so `file` calls it a class.
            stub = b"\xca\xfe\xba\xbe\x00\x00\x00\x37" + hashlib.sha256(name.encode()).digest()
            jar.writestr(name.replace(".", "/") + ".class", stub)
    return buffer.getvalue()


# --- a release's files ----------------------------------------------------------------
# Real names where the research found them (data/README.md says which); a
# release's install and its distribution share one layout.

JVM_DIRS = {8: "java-8-openjdk-amd64", 11: "java-11-openjdk-amd64"}


def jvm_home(sandbox: Path, java: int) -> Path:
    """Where the host's JDK of that major version lives (as Debian puts it)."""
    return sandbox / "usr" / "lib" / "jvm" / JVM_DIRS[java]


# A sandbox made with units without jsvc's -wait (RehearsalHost(unit_wait=False),
# tests): a start then returns once jsvc has forked, and a server slow to load
# runs without answering, as under a unit without -wait (an operator's own, or
# the docs' later red5pro.sh unit). The JDK 8 page's unit has -wait 60; the
# rehearsal's later jsvc unit has it too, inferred (data README).
WITHOUT_WAIT = ".rehearsal/units-without-wait"


def unit_text(release: Release, sandbox: Path) -> str:
    """The red5pro.service for a release: the shipped one from 9.0 on, the one
    the JDK 8 install page has the operator write before that. Paths inside
    the sandbox, where everything the rehearsal host has lives."""
    name = "red5pro.service.jdk8" if release.unit == "page" else "red5pro.service.jdk11"
    text = data_text(name).replace("@ROOT@", str(sandbox))
    if (sandbox / WITHOUT_WAIT).exists():
        text = re.sub(r"(?m)^ *-wait \d+ \\\n", "", text)
    if release.unit == "page":
        # Before 5.6.0 the page's classpath named commons-daemon 1.0.15 (FACTS §3).
        text = text.replace("commons-daemon-1.1.0.jar", release.daemon_jar)
    return text


# What Red5's 10.9.2-11.x installer (r5p_install_server_basic.sh) edits in the
# unit it copies from the distribution: the heap, sized from the machine's
# memory, and the open-file limit. A release that ships its unit was put on
# the stream manager by that installer, so the live unit carries both, and
# service-unit has something of the host's to carry (operator trial: with the
# stock unit in place no rehearsal ever showed it). The heap is the one the
# installer picks on an 8 GiB machine (data/README.md: inferred).
_INSTALLER_EDITS = (("-Xms2g -Xmx2g", "-Xms5g -Xmx5g"),
                    ("LimitNOFILE=65536", "LimitNOFILE=1000000"))


def installed_web_xml(release: Release) -> str:
    """The streammanager webapp's web.xml on a host where `release` is live:
    where Red5's 10.9.2-11.x installer set it up (a release that ships its
    unit, as above), with the CorsFilter that installer's config_sm_cors puts
    before </web-app> (data/web.xml.cors, its sed's very output; data README),
    which no release ships and runbook does not carry (facts audit 61, M2)."""
    text = web_xml(release.api)
    if release.unit == "shipped":
        text = text.replace("</web-app>", data_text("web.xml.cors") + "</web-app>")
    return text


def installed_unit_text(release: Release, sandbox: Path) -> str:
    """The red5pro.service in place on a host where `release` is live."""
    text = unit_text(release, sandbox)
    if release.unit == "shipped":
        for shipped, installed in _INSTALLER_EDITS:
            text = text.replace(shipped, installed)
    return text


def release_files(release: Release, sandbox: Path, *, api_port: int
                  ) -> dict[str, tuple[str | bytes, int]]:
    """Relative path -> (content, mode) of what a release's distribution holds."""
    numbers, build = release.numbers, release.build
    files: dict[str, tuple[str | bytes, int]] = {
        f"lib/{release.lib_jar}": (
            jar_bytes("red5pro", f"{numbers}.{build}", ["com.red5pro.activation.ProPluginator"]),
            0o644),
        "conf/red5.ini": (f"server.version={release.version}-release\n", 0o644),
        "red5-service.jar": (
            jar_bytes("red5-service", numbers, ["org.red5.server.Bootstrap"],
                      "org.red5.server.Bootstrap"), 0o644),
        "red5.service": (data_text("red5.service"), 0o644),
        "conf/red5.properties": (red5_properties(api_port), 0o644),
        "conf/autoscale.xml": (data_text("autoscale.xml"), 0o644),
        f"plugins/red5pro-autoscale-plugin-{numbers}.{build}-RELEASE.jar": (
            jar_bytes("red5pro-autoscale-plugin", f"{numbers}.{build}",
                      ["com.red5pro.clustering.autoscale.Configuration"]), 0o644),
        # Every release ships it (AM, AS); a stream manager has it deleted
        # (data README): strip-autoscale removes it from the new tree.
        f"plugins/red5pro-webrtc-plugin-{numbers}.{build}-RELEASE.jar": (
            jar_bytes("red5pro-webrtc-plugin", f"{numbers}.{build}",
                      ["com.red5pro.webrtc.plugin.WebRTCPlugin"]), 0o644),
        f"{WEBINF}/red5-web.properties": (data_text(release.properties), 0o644),
        f"{WEBINF}/web.xml": (web_xml(release.api), 0o644),
        f"{WEBINF}/applicationContext.xml": (application_context(DUMMY, release), 0o644),
        f"{WEBINF}/sql/cluster.sql": (data_text(release.schema), 0o644),
        f"{WEBINF}/lib/{release.commons_jar}": (
            jar_bytes("streammanager-commons", numbers, [DUMMY]), 0o644),
        # unzip only creates directories it sees, and a fresh install has a log dir.
        "log/.keep": ("", 0o644),
    }
    if release.restreamer:
        files[f"plugins/red5pro-restreamer-plugin-{numbers}.{build}-RELEASE.jar"] = (
            jar_bytes("red5pro-restreamer-plugin", f"{numbers}.{build}",
                      ["com.red5pro.restreamer.plugin.RestreamerPlugin"]), 0o644)
    # What jsvc loads its DaemonLoader from: the unit's classpath names it.
    files[release.daemon_jar] = (
        jar_bytes("commons-daemon", release.daemon_jar.removeprefix("commons-daemon-")
                  .removesuffix(".jar"),
                  ["org.apache.commons.daemon.support.DaemonLoader"]), 0o644)
    if release.marker:
        # A symlink to its own name (FACTS-scenarios §0: mode 120000 in AS).
        files[release.top] = (release.top, SYMLINK)
    if release.unit == "shipped":
        # From 9.0 the unit ships in the distribution root (FACTS-scenarios §1).
        files["red5pro.service"] = (unit_text(release, sandbox), 0o644)
    return files


# --- the live install ----------------------------------------------------------------


def _write(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(mode):
        path.unlink(missing_ok=True)
        os.symlink(content, path)
        return
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    path.chmod(mode)


def old_install_files(
    release: Release, sandbox: Path, secrets_: LiveSecrets, *, api_port: int,
    old_db: tuple[str, int],
) -> dict[str, tuple[str | bytes, int]]:
    """Relative path -> (content, mode) of the live install: the release as
    shipped, configured as the install pages tell an operator to, with SSL
    set up as Red5's SSL page does it, and CORS as Red5's installer does
    where it set the release up."""
    files = release_files(release, sandbox, api_port=api_port)
    files.update({
        "LICENSE.KEY": (secrets_.license_key + "\n", 0o644),
        "conf/red5.properties": (red5_properties(api_port, ssl_edited=True), 0o644),
        f"{WEBINF}/red5-web.properties": (old_properties(release, secrets_, old_db), 0o644),
        f"{WEBINF}/applicationContext.xml": (application_context(AWS, release), 0o644),
        f"{WEBINF}/web.xml": (installed_web_xml(release), 0o644),
        f"{WEBINF}/lib/{release.controller_jar}": (
            jar_bytes("aws-cloud-controller", release.numbers, [AWS]), 0o644),
    })
    # The node-side autoscale pieces, and the WebRTC plugin, were removed when
    # it became a stream manager, as Red5's install pages have it (data README).
    gone = ("plugins/red5pro-autoscale-plugin-", "plugins/red5pro-webrtc-plugin-")
    for rel in list(files):
        if rel == "conf/autoscale.xml" or rel.startswith(gone):
            del files[rel]
    return files


def write_old_install(
    sandbox: Path, scenario: Scenario, secrets_: LiveSecrets, *, api_port: int,
    old_db: tuple[str, int],
) -> None:
    home = red5_home(sandbox)
    for rel, (content, mode) in old_install_files(
        scenario.old, sandbox, secrets_, api_port=api_port, old_db=old_db
    ).items():
        _write(home / rel, content, mode)
    (home / "log").mkdir(exist_ok=True)
    # The unit in place when the live release was installed.
    _write(unit_file(sandbox), installed_unit_text(scenario.old, sandbox))


def install_jvms(sandbox: Path, scenario: Scenario) -> None:
    """The JDKs the host has: the live release's, and the new release's that
    the operator installed ahead of the window (the upgrade pages ask for it).
    Each answers -version with its own banner; `java` on PATH is the newest."""
    for java in sorted({scenario.old.java, scenario.new.java}):
        target = jvm_home(sandbox, java) / "bin" / "java"
        _write(target, data_text("shim-java").replace("@MAJOR@", str(java)), 0o755)
    newest = jvm_home(sandbox, max(scenario.old.java, scenario.new.java)) / "bin" / "java"
    link = bin_dir(sandbox) / "java"
    make_private_dir(link.parent)
    link.unlink(missing_ok=True)
    link.symlink_to(newest)


# --- the operator's downloads --------------------------------------------------------


def _zip_info(name: str, mode: int, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2025, 6, 2, 12, 0, 0))
    # Unix permissions (and the file type: the root marker is a symlink), so
    # unzip restores them.
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


def build_distribution(path: Path, release: Release, sandbox: Path, *, api_port: int,
                       dist_size: int | None = None) -> None:
    """Write the new release zip: one top folder, the real layout.

    ``dist_size`` pads it with incompressible bytes (stored, not deflated) to
    roughly that many bytes, so uploads and unzips can be measured at a
    realistic size.
    """
    files = release_files(release, sandbox, api_port=api_port)
    dirs: set[str] = {release.top + "/"}
    for rel in files:
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs.add(f"{release.top}/{'/'.join(parts[:depth])}/")
    make_private_dir(path.parent)
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    # Born owner-only like everything else in the operator's folder.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as dist:
        for name in sorted(dirs):
            dist.writestr(_zip_info(name, 0o40755, zipfile.ZIP_STORED), b"")
        for rel, (content, mode) in files.items():
            kind = mode if stat.S_IFMT(mode) else stat.S_IFREG | mode
            info = _zip_info(f"{release.top}/{rel}", kind, zipfile.ZIP_DEFLATED)
            dist.writestr(info, content)
        if dist_size:
            # About 200 bytes of headers and central directory go with the pad.
            remaining = dist_size - raw.tell() - 200 - 60 * (len(files) + len(dirs))
            if remaining > 0:
                info = _zip_info(
                    f"{release.top}/lib/red5pro-bundle-padding.bin", 0o100644, zipfile.ZIP_STORED
                )
                with dist.open(info, "w", force_zip64=remaining > 0x7FFFFFFF) as pad:
                    while remaining > 0:
                        chunk = min(remaining, 1 << 20)
                        pad.write(os.urandom(chunk))
                        remaining -= chunk
    tmp.replace(path)


def build_controller_jar(path: Path, release: Release) -> None:
    make_private_dir(path.parent)
    write_private(path, jar_bytes("aws-cloud-controller", release.numbers, [AWS]))


# --- shims ---------------------------------------------------------------------------


# Where sudo finds the way back to root's powers when the SSH user is a plain
# user (see install_root_helper); the sudo shim looks for it there.
ROOT_HELPER = "libexec/sudo-root"
# How a plain user's command starts: uid 0 kept (the sandbox is that uid's),
# no capability at all, and none regained by exec (SECBIT_NOROOT), so the
# kernel's permission checks are a plain user's: a folder of another owner's
# that is 0700 cannot be entered, as on a host where the SSH user is not root.
PLAIN_USER = ("setpriv", "--securebits=+noroot", "--inh-caps=-all", "--ambient-caps=-all",
              "--")
# struct vfs_cap_data, revision 2 (linux/capability.h): effective bit set.
_VFS_CAP_REVISION_2_EFFECTIVE = 0x02000001


def install_root_helper(sandbox: Path, *, plain_user: bool) -> None:
    """For a plain SSH user, the sudo shim's way to root: a copy of setpriv
    that holds every capability this process may hand on (file capabilities,
    as a set-uid sudo holds them), and clears SECBIT_NOROOT before it runs the
    command, so the command is root as sudo makes it. Owner-only, in the
    owner-only state folder; removed again for a host whose user is root."""
    import struct

    target = state_dir(sandbox) / ROOT_HELPER
    target.unlink(missing_ok=True)
    if not plain_user:
        return
    setpriv = shutil.which(PLAIN_USER[0])
    if os.geteuid() != 0 or setpriv is None:
        raise OSError("a plain SSH user needs the rehearsal run as root, with setpriv")
    bounding = next(int(line.split()[1], 16)
                    for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("CapBnd:"))
    make_private_dir(target.parent)
    write_private(target, Path(setpriv).read_bytes(), PRIVATE_DIR)
    os.setxattr(target, "security.capability",
                struct.pack("<5I", _VFS_CAP_REVISION_2_EFFECTIVE, bounding & 0xFFFFFFFF, 0,
                            bounding >> 32, 0))


def install_shims(sandbox: Path) -> None:
    """Copy the command shims into place. Done at every start, so a kept
    sandbox always runs the shims of the installed runbook version."""
    for source, rel in SHIMS.items():
        target = state_dir(sandbox) / rel
        make_private_dir(target.parent)
        # Executable, and like the rest of the state folder, for the owner only.
        write_private(target, data_text(source), PRIVATE_DIR)


# The mysql client stand-in, as mysql and mariadb: only where the rehearsal's
# databases are the built-in stand-ins (with MariaDB the real client answers).
CLIENT_SHIM = "shim-mysql"
CLIENT_SHIM_NAMES = ("bin/mysql", "bin/mariadb")


def install_client_shim(sandbox: Path, *, stand_in: bool) -> None:
    for rel in CLIENT_SHIM_NAMES:
        target = state_dir(sandbox) / rel
        if stand_in:
            make_private_dir(target.parent)
            write_private(target, data_text(CLIENT_SHIM), PRIVATE_DIR)
        else:
            target.unlink(missing_ok=True)


# --- the whole tree ------------------------------------------------------------------


def create_sandbox(
    sandbox: Path,
    scenario: Scenario,
    *,
    user: str,
    api_port: int,
    old_db: tuple[str, int],
    secrets_: LiveSecrets,
    dist_size: int | None = None,
) -> None:
    """Lay out a brand-new host in ``sandbox`` (which may exist but holds no host yet)."""
    for rel in ("tmp", "run", f"home/{user}"):
        (sandbox / rel).mkdir(parents=True, exist_ok=True)
    secure_state(sandbox)
    (sandbox / "tmp").chmod(0o1777)
    write_old_install(sandbox, scenario, secrets_, api_port=api_port, old_db=old_db)
    install_jvms(sandbox, scenario)
    build_distribution(operator_dir(sandbox) / scenario.zip_name, scenario.new, sandbox,
                       api_port=api_port, dist_size=dist_size)
    build_controller_jar(operator_dir(sandbox) / scenario.controller_jar, scenario.new)
    install_shims(sandbox)


def remove_sandbox(sandbox: Path) -> None:
    def retry_writable(func: Callable[[str], object], path: str, exc_info: object) -> None:
        # A directory the rehearsal made read-only (chmod in a command, say)
        # blocks removing what is in it; open it up and try once more.
        if func not in (os.unlink, os.rmdir):
            raise
        os.chmod(os.path.dirname(path), 0o755)
        func(path)

    shutil.rmtree(sandbox, onerror=retry_writable)


# --- processes -----------------------------------------------------------------------
# Every process started on the rehearsal host (commands, the service, whatever
# they leave running) inherits RUNBOOK_SANDBOX=<sandbox> from the SSH server.
# That marker, not a process name, is what cleanup goes by: it cannot match an
# unrelated process that merely has a similar name or argument.


def _proc_read(pid: int, name: str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read()
    except OSError:
        return None


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state letter, process group, session) of a process, or None when it is gone."""
    raw = _proc_read(pid, "stat")
    if raw is None:
        return None
    # The command name in parentheses may itself contain spaces or ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2]), int(fields[3])


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def proc_cmdline(pid: int) -> str:
    raw = _proc_read(pid, "cmdline") or b""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def owned_processes(sandbox: Path, pgids: Collection[int] | None = None) -> list[int]:
    """Running processes started for ``sandbox`` (optionally only those whose
    process group or session is one of ``pgids``), never including this process."""
    marker = f"{SANDBOX_ENV}={sandbox}".encode()
    found: list[int] = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        stat = proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        if pgids is not None and stat[1] not in pgids and stat[2] not in pgids:
            continue
        environ = _proc_read(pid, "environ")
        if environ is not None and marker in environ.split(b"\0"):
            found.append(pid)
    return found


def processes_mentioning(sandbox: Path) -> list[int]:
    """Running processes whose command line names the sandbox (what an operator
    would find with ps), never including this process."""
    needle = str(sandbox)
    return [
        pid
        for pid in _pids()
        if pid != os.getpid() and is_running(pid) and needle in proc_cmdline(pid)
    ]
