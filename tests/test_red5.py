"""Red5 facts the steps rely on: versions, Java, the zip layout, the controller bean."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from steps import red5

SHIPPED = (Path(__file__).parent / "data" / "applicationContext.xml.6.2.0.b406").read_text()
AWS = "com.red5pro.services.cloud.aws.component.AWSInstanceController"


@pytest.mark.parametrize(
    ("name", "version", "major", "java"),
    [
        ("red5pro-server-11.1.0.b835-release.zip", "11.1.0.b835", 11, 11),
        ("red5pro-server-11.1.0.b835-release.zip", "11.1.0.b835", 11, 11),
        ("red5pro-server-NOR-12.2.0.2.b953-release.zip", "12.2.0.2.b953", 12, 11),
        ("red5pro-server-6.2.0.b406-release", "6.2.0.b406", 6, 8),
    ],
)
def test_versions_and_the_java_they_need(name: str, version: str, major: int, java: int) -> None:
    assert red5.distribution_version(name) == version
    assert red5.major(version) == major
    assert red5.required_java(major) == java


def test_java_banner_parsing() -> None:
    assert red5.java_major('openjdk version "21.0.5" 2024-10-15') == 21
    assert red5.java_major('java version "1.8.0_292"') == 8
    assert red5.java_major("bash: java: command not found") is None


def test_installed_version_reads_the_marker_file() -> None:
    listing = ["conf", "lib", "red5pro-server-6.2.0.b406-release", "LICENSE.KEY"]
    assert red5.installed_version(listing) == "6.2.0.b406"
    assert red5.installed_version(["conf", "red5pro-server-6.2.0.b406-release.zip"]) is None


def test_installed_version_reads_red5_ini_first_then_the_marker_then_the_lib_jar() -> None:
    """As Red5's installer reads an install (conf/red5.ini's server.version,
    FACTS-scenarios section 5), with the marker and lib jar behind it (facts
    audit 57b, M3). A lib jar with four numbers before its build, as a
    12.2.0.2 release (FACTS section 4) named as 6.2.0 names its jar would
    have, gave None."""
    marker = ["conf", "lib", "red5pro-server-6.2.0.b406-release"]
    lib = ["red5pro-6.2.0.406-RELEASE.jar"]
    ini = "# Red5 Pro\nserver.version=11.1.0.b835-release\r\n"
    assert red5.installed_version(marker, lib, ini) == "11.1.0.b835"
    assert red5.installed_version(marker, lib, "server.version=\n") == "6.2.0.b406"
    assert red5.installed_version(["conf"], lib, None) == "6.2.0.b406"
    assert red5.installed_version([], ["red5pro-12.2.0.2.953-RELEASE.jar"]) == "12.2.0.2.b953"
    assert red5.installed_version([], ["red5pro-6.2.0-RELEASE.jar"]) is None


def test_top_folder_requires_exactly_one(tmp_path: Path) -> None:
    good = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("red5pro-server-11.1.0.b835-release/conf/red5.properties", "x")
        archive.writestr("red5pro-server-11.1.0.b835-release/LICENSE.txt", "x")
    assert red5.layout(good) == ("red5pro-server-11.1.0.b835-release", False)
    # Two folders, neither the install's own: not a distribution (a flat one,
    # with conf/ or webapps/ at its top, is taken: FACTS §4).
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as archive:
        archive.writestr("docs/readme.txt", "x")
        archive.writestr("lib/red5.jar", "x")
    with pytest.raises(ValueError, match="one red5pro-server"):
        red5.layout(mixed)


def test_shipped_context_runs_the_dummy_controller() -> None:
    assert red5.active_controller(SHIPPED) == red5.DUMMY_CONTROLLER


def test_carrying_the_live_controller_activates_the_same_bean() -> None:
    operator_edited = _activate(SHIPPED, AWS)
    assert red5.active_controller(operator_edited) == AWS
    merged = red5.carry_controller(operator_edited, SHIPPED)
    assert red5.active_controller(merged) == AWS
    # The dummy is kept, commented out, and nothing else in the file moved.
    assert red5.DUMMY_CONTROLLER in merged
    assert merged.count("<bean") == SHIPPED.count("<bean")
    assert "${aws.accessKey}" in merged
    # Carrying again changes nothing.
    assert red5.carry_controller(operator_edited, merged) == merged


AWS_6_2_KEYS = ["aws.accessKey", "aws.accessSecret", "aws.ec2KeyPairName",
                "aws.ec2SecurityGroup", "aws.defaultzone", "aws.defaultVPC", "aws.vpcName",
                "aws.operationTimeoutMilliseconds", "aws.faultZoneBlockMilliseconds",
                "aws.forUsGovRegions"]


@pytest.mark.parametrize(("bean", "last"), [
    (AWS, "aws.forUsGovRegions"),
    ("com.red5pro.services.cloud.google.component.ComputeInstanceController", "compute.network"),
    ("com.red5pro.services.simulatedcloud.generic.component.GenericSimulatedCloudController",
     "managed.recycleDeadNodes"),
])
def test_the_keys_the_new_bean_reads_are_those_of_the_bean_carry_over_activates(
        bean: str, last: str) -> None:
    """Facts audit 57b H1: 6.2.0's AWS, Google and Simulated beans name keys
    its template ships commented out (shared applicationContext.xml.6.2.0.b406,
    line 166 and below). Every ${key} of the whole bean counts: the bean's
    first property closing itself (/>) once ended the bean here."""
    live = f"<beans><bean id=\"apiBridge\" class=\"{bean}\"> </bean></beans>"
    reads = red5.keys_the_new_bean_reads(live, SHIPPED)
    assert list(reads)[-1] == last
    assert set(reads.values()) == {bean.rsplit(".", 1)[-1]}
    if bean == AWS:
        assert list(reads) == AWS_6_2_KEYS
    # The same once carry-over has run: the new file read as it then is.
    assert red5.keys_the_new_bean_reads(live, red5.carry_controller(live, SHIPPED)) == reads
    # A default needs no key; the shipped file (the dummy active) names none.
    assert red5.bean_keys('<beans><bean id="apiBridge" class="X">'
                          '<property name="a" value="${a.b:x}"/>'
                          '<property name="c" value="${c.d}"/></bean></beans>') == ["c.d"]
    assert red5.bean_keys(SHIPPED) == []
    assert red5.keys_the_new_bean_reads("<beans></beans>", SHIPPED) == {}


def test_the_rehearsals_controller_beans_are_labelled_as_red5_labels_them() -> None:
    """Facts audit 58b F11: the rehearsal's applicationContext.xml labelled
    its controller beans in its own words ("Default controller: launches
    nothing", "Amazon Web Services"), where Red5's files say
    `<!-- Default CONTROLLER -->`, `<!-- AWS CONTROLLER -->` and so on (the
    shared 6.2.0 file) and Red5's installer seds on those two comments and on
    a commented bean that begins `<!-- <bean id="apiBridge" class="..."`: an
    operator practising that edit on the rehearsal found none of them."""
    import re

    from runbook.rehearsal import sandbox
    from runbook.rehearsal.scenarios import R5_1, R6_2, R11_1

    red5s = set(re.findall(r"<!-- ([A-Za-z -]+CONTROLLER) -->", SHIPPED))
    assert {"Default CONTROLLER", "AWS CONTROLLER"} <= red5s, red5s
    for release in (R5_1, R6_2, R11_1):
        for active, _, _ in sandbox.CONTROLLER_BEANS[release.wiring]:
            text = sandbox.application_context(active, release)
            labels = re.findall(r"<!-- ([^<>]*?) -->", text)
            beans = [label for label in labels if label.endswith("CONTROLLER")]
            assert "Default CONTROLLER" in beans and "AWS CONTROLLER" in beans, labels
            assert set(beans) <= red5s, (release.version, beans)
            assert len(beans) == len(sandbox.CONTROLLER_BEANS[release.wiring]), labels
            if active != sandbox.AWS:
                assert f'<!-- <bean id="apiBridge" class="{sandbox.AWS}"' in text, text


def test_the_key_the_live_bean_read_for_a_property_the_new_bean_reads_under_another() -> None:
    """Review 57d M2: 5.1.1's Simulated and Limelight beans read
    recycleDeadNodes from ${instancecontroller.recycleDeadNodes} (AM's
    applicationContext.xml; the rehearsal's 5.1.1 wiring), 6.2.0's from
    ${managed.recycleDeadNodes} and ${limelight.recycleDeadNodes} (the shared
    file, whose tags spread over lines). Matched by the property's name."""
    from runbook.rehearsal import sandbox
    from runbook.rehearsal.scenarios import R5_1

    simulated = sandbox.application_context(sandbox.SIMULATED, R5_1)
    assert red5.keys_read_before(simulated, SHIPPED) == {
        "managed.recycleDeadNodes": "instancecontroller.recycleDeadNodes"}
    for same in (sandbox.AWS, sandbox.GOOGLE, sandbox.AZURE):
        assert red5.keys_read_before(sandbox.application_context(same, R5_1), SHIPPED) == {}
    limelight = red5.carry_controller(
        '<beans><bean id="apiBridge" class="com.red5pro.cloud.limelight.controllers.'
        'LimelightCloudController"></bean></beans>', SHIPPED).replace(
        "${limelight.recycleDeadNodes}", "${instancecontroller.recycleDeadNodes}")
    assert red5.keys_read_before(limelight, SHIPPED) == {
        "limelight.recycleDeadNodes": "instancecontroller.recycleDeadNodes"}
    assert red5.keys_read_before("<beans></beans>", SHIPPED) == {}


def test_carrying_refuses_when_the_live_controller_is_unclear() -> None:
    with pytest.raises(ValueError, match="no single active"):
        red5.carry_controller("<beans></beans>", SHIPPED)
    no_aws = SHIPPED.replace(AWS, "com.example.Other")
    with pytest.raises(ValueError, match="no bean for"):
        red5.carry_controller(_activate(SHIPPED, AWS), no_aws)


def _activate(xml: str, cls: str) -> str:
    """What an operator does by hand: comment out the dummy, uncomment a cloud bean."""
    import re

    dummy = re.search(r"<bean id=\"apiBridge\"\s+class=\"[^\"]*DummyCloudController\".*?</bean>",
                      xml, re.DOTALL)
    assert dummy is not None
    xml = xml[: dummy.start()] + "<!-- " + dummy.group(0) + " -->" + xml[dummy.end():]
    start = xml.index(f'<!-- <bean id="apiBridge" class="{cls}"')
    end = xml.index("-->", start)
    return xml[:start] + xml[start + 5: end] + xml[end + 3:]


def _distribution(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize(("inside", "found"), [
    ({"conf/red5.ini": "server.version=11.1.0.b835-release\n"}, "11.1.0.b835"),
    ({"red5pro-server-6.2.0.b406-release": ""}, "6.2.0.b406"),
    ({"lib/red5pro-6.2.0.406-RELEASE.jar": "x"}, "6.2.0.b406"),
    ({"conf/red5.properties": "x"}, None),
])
def test_a_zip_not_named_by_its_release_is_read_inside_for_it(
        tmp_path: Path, inside: dict[str, str], found: str | None) -> None:
    """Account downloads are red5pro-server-us-<uuid>.zip (FACTS-scenarios,
    section 2): the release is in conf/red5.ini (as the installer reads it), the
    root marker or the lib jar (FACTS, section 5)."""
    top = "red5pro-server-build"
    zipped = _distribution(tmp_path / "red5pro-server-us-3f2b9c7e.zip",
                           {f"{top}/{name}": text for name, text in inside.items()})
    assert red5.zip_version(zipped) == found
    named = _distribution(tmp_path / "red5pro-server-11.1.0.b835-release.zip",
                          {f"{top}/conf/red5.ini": "server.version=6.2.0.b406-release\n"})
    assert red5.zip_version(named) == "11.1.0.b835"  # its name, as published, comes first


@pytest.mark.parametrize(("inside", "found"), [
    ({"conf/red5.ini": "server.version=11.1.0.b835-release\n"}, "11.1.0.b835"),
    ({"red5pro-server-6.2.0.b406-release": ""}, "6.2.0.b406"),
    ({"lib/red5pro-6.2.0.406-RELEASE.jar": "x"}, "6.2.0.b406"),
    ({}, None),
])
def test_a_flat_zip_is_read_for_its_release_and_named_after_it(
        tmp_path: Path, inside: dict[str, str], found: str | None) -> None:
    """A zip with the install's folders at its top, no top folder (Red5's
    installer takes one, FACTS §4), is unpacked into a folder of its own,
    named after the release inside it, else after the zip."""
    zipped = _distribution(tmp_path / "red5pro-server-us-3f2b9c7e.zip",
                           {"conf/red5.properties": "http.port=5080\n", **inside})
    assert red5.zip_version(zipped) == found
    folder = f"red5pro-server-{found}-release" if found else "red5pro-server-us-3f2b9c7e"
    assert red5.layout(zipped) == (folder, True)


@pytest.mark.parametrize("name", ["red5pro.zip", "bak.red5pro.zip", ".hidden.zip"])
def test_a_flat_zip_that_would_land_on_the_live_install_is_refused(
        tmp_path: Path, name: str) -> None:
    """Named after nothing but itself, a flat red5pro.zip would be unpacked
    into the live install's own folder."""
    zipped = _distribution(tmp_path / name, {"webapps/root/index.html": "<html/>"})
    with pytest.raises(ValueError, match="rename the zip"):
        red5.layout(zipped)


# --- the classpath of a jsvc unit kept for a release that ships none ------------------

_JSVC_UNIT = (
    "[Service]\n"
    "Environment=RED5_HOME=/usr/local/red5pro\n"
    "ExecStart=/usr/bin/jsvc -debug -home ${JAVA_HOME} -cwd ${RED5_HOME} -cp "
    "${RED5_HOME}/commons-daemon-1.0.15.jar:${RED5_HOME}/red5-service.jar:${RED5_HOME}/conf "
    "-Dred5.root=${RED5_HOME} org.red5.daemon.EngineLauncher 9999\n"
    "ExecStop=/usr/bin/jsvc -stop -cp ${RED5_HOME}/commons-daemon-1.0.15.jar "
    "org.red5.daemon.EngineLauncher 9999\n"
)


def _inside(unit: str, *homes: str) -> list[str] | None:
    entries = red5.unit_classpath(unit, homes or ("/usr/local/red5pro",))
    return None if entries is None else [entry.inside for entry in entries]


def test_a_kept_units_classpath_names_what_the_install_must_have() -> None:
    assert _inside(_JSVC_UNIT) == ["commons-daemon-1.0.15.jar", "red5-service.jar", "conf"]
    literal = _JSVC_UNIT.replace("${RED5_HOME}/red5-service.jar",
                                 "/usr/local/red5pro/red5-service.jar")
    assert "red5-service.jar" in (_inside(literal, "/usr/local/red5pro/") or [])
    # Through the install's real path too (a symlinked /usr/local, say).
    real = _JSVC_UNIT.replace("${RED5_HOME}/conf", "/srv/red5/red5pro/conf")
    assert "conf" in (_inside(real, "/usr/local/red5pro", "/srv/red5/red5pro") or [])
    # Outside the install it is not the release's to have; red5pro.sh units have none.
    elsewhere = _JSVC_UNIT.replace("${RED5_HOME}/conf", "/etc/red5/conf")
    assert "conf" not in (_inside(elsewhere) or [])
    assert _inside("ExecStart=/usr/local/red5pro/red5pro.sh start\n") == []


def test_a_kept_units_classpath_is_read_as_systemd_reads_the_unit() -> None:
    """Review: blanks around the = (Red5's 9.0 unit has them), a continued
    line, quotes or a second -cp gave no classpath or the wrong one, and the
    unit passed unchecked."""
    spaced = _JSVC_UNIT.replace("ExecStart=", "ExecStart = ")
    assert _inside(spaced) == ["commons-daemon-1.0.15.jar", "red5-service.jar", "conf"]
    continued = _JSVC_UNIT.replace(" -cp ", " \\\n    -cp ")
    assert _inside(continued) == ["commons-daemon-1.0.15.jar", "red5-service.jar", "conf"]
    quoted = _JSVC_UNIT.replace("-cp ${RED5_HOME}/commons-daemon-1.0.15.jar:",
                                "-cp '${RED5_HOME}/commons-daemon-1.0.15.jar:")
    quoted = quoted.replace("/conf -D", "/conf' -D")
    assert _inside(quoted) == ["commons-daemon-1.0.15.jar", "red5-service.jar", "conf"]
    twice = _JSVC_UNIT.replace("-Dred5.root", "-cp ${RED5_HOME}/lib/x.jar -Dred5.root")
    assert _inside(twice) == ["lib/x.jar"], "the last -cp counts, as for jsvc"
    # A jsvc unit whose classpath cannot be read is said to be so, not passed.
    assert _inside(_JSVC_UNIT.replace(" -cp ", " ")) is None
    assert red5.fit_classpath(_JSVC_UNIT.replace(" -cp ", " "), (), set()).unread


def test_a_kept_unit_is_pointed_at_the_commons_daemon_jar_the_release_has(
        tmp_path: Path) -> None:
    """Facts audit: 5.1.1's unit names commons-daemon-1.0.15.jar, 6.2.0 ships
    1.1.0 (FACTS §3, the AM and AS installs): kept as it was, jsvc finds no
    DaemonLoader and the new release does not start."""
    import subprocess

    homes = ("/usr/local/red5pro",)
    has = {"commons-daemon-1.1.0.jar", "red5-service.jar", "conf"}
    fit = red5.fit_classpath(_JSVC_UNIT, homes, has)
    assert fit.swap is not None and (fit.swap.named, fit.swap.ours) == (
        "commons-daemon-1.0.15.jar", "commons-daemon-1.1.0.jar")
    assert fit.missing == [] and not fit.unread
    # The sed the host runs changes that entry and nothing else, not even the
    # same jar's name elsewhere (the jsvc package's, say).
    unit = tmp_path / "red5pro.service"
    other = "/usr/share/java/commons-daemon-1.0.15.jar"
    unit.write_text(_JSVC_UNIT + f"# {other}\n")
    subprocess.run(["sed", "-i", "-e", red5.classpath_sed(fit.swap), "--", str(unit)],
                   check=True)
    changed = unit.read_text()
    assert changed.count("${RED5_HOME}/commons-daemon-1.1.0.jar") == 2
    assert changed == (_JSVC_UNIT + f"# {other}\n").replace(
        "${RED5_HOME}/commons-daemon-1.0.15.jar", "${RED5_HOME}/commons-daemon-1.1.0.jar")
    # What the release already has stays as it is.
    same = red5.fit_classpath(_JSVC_UNIT, homes, has | {"commons-daemon-1.0.15.jar"})
    assert (same.swap, same.missing) == (None, [])
    # No jar, two to choose from, or another entry missing: nothing to mend by itself.
    for release in ({"red5-service.jar", "conf"},
                    {"commons-daemon-1.1.0.jar", "commons-daemon-1.2.4.jar", "red5-service.jar",
                     "conf"}):
        fit = red5.fit_classpath(_JSVC_UNIT, homes, release)
        assert (fit.swap, fit.missing) == (None, ["commons-daemon-1.0.15.jar"])
    fit = red5.fit_classpath(_JSVC_UNIT, homes, {"commons-daemon-1.1.0.jar"})
    assert fit.missing == ["red5-service.jar", "conf"]


def test_a_zip_without_folder_entries_still_has_its_folders(tmp_path: Path) -> None:
    """Review: many zip tools write no entry for a folder; conf was then
    missing from the release, and a good upgrade was refused."""
    zip_path = tmp_path / "red5pro-server-6.2.0.b406-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("red5pro-server-6.2.0.b406-release/conf/red5.ini", "x")
        archive.writestr("red5pro-server-6.2.0.b406-release/red5-service.jar", "x")
    names = red5.zip_names(zip_path, "red5pro-server-6.2.0.b406-release/")
    assert names == {"conf", "conf/red5.ini", "red5-service.jar"}
