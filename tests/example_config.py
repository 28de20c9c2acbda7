"""The production example as a test runs it on this machine: `run` refuses,
before it connects, a config whose zip and jar are not here (trial 55, F7),
so a test that means to get further gives it files of its own."""

from __future__ import annotations

import zipfile
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "sample-configs" / "production.example.toml"
ZIP = "red5pro-server-11.1.0.b835-release.zip"
JAR = "aws-cloud-controller-11.0.0.jar"


def artifacts_in(folder: Path, text: str) -> str:
    """A config's text with its zip and jar made in `folder`: the zip holds
    the stream manager's webapp (its red5-web.properties), the jar is an
    empty archive."""
    with zipfile.ZipFile(folder / ZIP, "w") as archive:
        archive.writestr("red5pro-server-11.1.0.b835/webapps/streammanager/WEB-INF/"
                         "red5-web.properties", "proxy.enabled=false\n")
    (folder / JAR).write_bytes(b"PK\x05\x06" + bytes(18))
    for name in (ZIP, JAR):
        text = text.replace(f'"~/Downloads/{name}"', f'"{folder / name}"')
    return text


def example_here(folder: Path) -> Path:
    """The production example, its zip and jar in `folder` (artifacts_in)."""
    config = folder / "sm1.toml"
    config.write_text(artifacts_in(folder, EXAMPLE.read_text()))
    return config
