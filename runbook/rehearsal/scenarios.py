"""The upgrades a rehearsal can rehearse: real Red5 Pro releases, both sides.

Every fact here (versions, builds, API versions, Java, file names, the shape
of the service unit) comes from the shared Red5 Pro research; see
runbook/rehearsal/data/README.md for each one's source, and for what is
inferred where no release could be read. A scenario is chosen once, when a
sandbox is created, and kept in its state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Release:
    """One Red5 Pro server release as the rehearsal lays it out."""

    version: str  # as the root marker and the zip name spell it: 6.2.0.b406
    api: str  # the Stream Manager API version its streammanager webapp serves
    java: int  # the Java major version it runs on
    # Its red5pro.service, run by jsvc (two processes) either way: "page" (one
    # written by hand from the JDK 8 install page, before 9.0) or "shipped"
    # (in the distribution root, from 9.0 on).
    unit: Literal["page", "shipped"]
    # A root marker red5pro-server-VERSION-release, a symlink to its own name
    # (5.1.1 has none). runbook reads every release's version in conf/red5.ini
    # first, as Red5's installer does; the marker and lib jar are its fallbacks.
    marker: bool
    # Which real red5-web.properties template and cluster.sql it carries.
    properties: str
    schema: str
    # The cloud controller jar in WEB-INF/lib of an install of this release.
    controller_jar: str
    # The streammanager-commons jar in WEB-INF/lib (its own version number).
    commons: str
    # Whether plugins/ holds the restreamer plugin (6.2.0 has it, 5.1.1 not).
    restreamer: bool = True
    # Whether its red5-web.properties template and cluster.sql stand in for
    # ones no source has (data/README.md: no shipped 7.x-13.x template was
    # found, and 10.9 and 11.1 carry 6.2.0's cluster.sql): what a rehearsal
    # says wherever it uses them.
    stand_in: bool = False
    # How its applicationContext.xml wires the cloud-controller beans
    # (sandbox.CONTROLLER_BEANS): 5.1.1's, 6.2.0's, or the API 4.0 releases'.
    wiring: Literal["5.1.1", "6.2.0", "api4"] = "6.2.0"

    @property
    def numbers(self) -> str:
        """6.2.0.b406 -> 6.2.0 (the plugins' and jars' version)."""
        return self.version.split(".b")[0]

    @property
    def build(self) -> str:
        """6.2.0.b406 -> 406."""
        return self.version.rsplit(".b", 1)[-1]

    @property
    def daemon_jar(self) -> str:
        """The commons-daemon jar at the root of a release, the one its unit's
        classpath names: 1.0.15 before 5.6.0 and 1.1.0 after (FACTS §3; the
        5.1.1 and 6.2.0 installs, FACTS-scenarios), 1.2.4 in the shipped unit
        (the 9.x status sample, FACTS-scenarios §1; inferred for 10.9 and 11.1)."""
        if self.unit == "shipped":
            return "commons-daemon-1.2.4.jar"
        numbers = tuple(int(n) for n in self.numbers.split("."))
        return "commons-daemon-1.0.15.jar" if numbers < (5, 6, 0) else "commons-daemon-1.1.0.jar"

    @property
    def top(self) -> str:
        """The folder the distribution unpacks into, and its root marker."""
        return f"red5pro-server-{self.version}-release"

    @property
    def zip_name(self) -> str:
        return f"{self.top}.zip"

    @property
    def commons_jar(self) -> str:
        return f"streammanager-commons-{self.commons}.jar"

    @property
    def lib_jar(self) -> str:
        """lib/red5pro-6.2.0.406-RELEASE.jar, where the version is written too."""
        return f"red5pro-{self.numbers}.{self.build}-RELEASE.jar"


R5_1 = Release("5.1.1.b236", "3.0", 8, "page", marker=False,
               properties="red5-web.properties.5.1.1.236", schema="cluster.sql.5.1.1.236",
               controller_jar="aws-cloud-controller.jar", commons="1.2.10", restreamer=False,
               wiring="5.1.1")
R6_2 = Release("6.2.0.b406", "3.1", 8, "page", marker=True,
               properties="red5-web.properties.6.2.0.b406", schema="cluster.sql.6.2.0.b406",
               controller_jar="aws-cloud-controller.jar", commons="6.2.0")
R10_9 = Release("10.9.2.b735", "4.0", 11, "shipped", marker=True,
                properties="red5-web.properties.api4", schema="cluster.sql.6.2.0.b406",
                controller_jar="aws-cloud-controller-10.9.0.jar", commons="10.9.2",
                stand_in=True, wiring="api4")
R11_1 = Release("11.1.0.b835", "4.0", 11, "shipped", marker=True,
                properties="red5-web.properties.api4", schema="cluster.sql.6.2.0.b406",
                controller_jar="aws-cloud-controller-11.0.0.jar", commons="11.1.0",
                stand_in=True, wiring="api4")


@dataclass(frozen=True)
class Scenario:
    """An upgrade path to rehearse: the release it starts from and the one it goes to."""
    name: str
    old: Release
    new: Release
    what: str
    # Named as the Red5 account names its downloads rather than by its release.
    account_download: bool = False

    @property
    def zip_name(self) -> str:
        """The new release's zip as the operator saved it: by Red5's published
        name, or as an account download, red5pro-server-us-<uuid>.zip
        (FACTS-scenarios §2), whose release preflight reads inside it. The
        uuid is derived from the release so a resumed rehearsal finds the zip."""
        if self.account_download:
            return f"red5pro-server-us-{uuid.uuid5(uuid.NAMESPACE_URL, self.new.version)}.zip"
        return self.new.zip_name

    @property
    def controller_jar(self) -> str:
        """The jar the operator downloads for the new release."""
        return self.new.controller_jar


SCENARIOS = {s.name: s for s in (
    Scenario("6.2-to-11.1", R6_2, R11_1,
             "6.2.0 (API 3.1, Java 8, a unit written from the install page) to 11.1.0 "
             "(API 4.0, Java 11, the red5pro.service it ships)"),
    Scenario("5.1-to-6.2", R5_1, R6_2,
             "5.1.1 (API 3.0, no root marker) to 6.2.0 (API 3.1); the "
             "schema gains seven tables"),
    Scenario("10.9-to-11.1", R10_9, R11_1,
             "10.9.2 to 11.1.0: API 4.0 and Java 11 on both sides; the zip is named as "
             "the Red5 account names its downloads", account_download=True),
)}
DEFAULT = "6.2-to-11.1"


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise ValueError(f"no rehearsal scenario {name!r}; choose one of {known}") from None
