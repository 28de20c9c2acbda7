"""runbook.properties.writer: what ending a review writes, and what it refuses to.

No app here: the writers are the file policy the review editor only reports on. Every
test works on real files in a temporary folder; the one that cuts a write short does it
with a real file-size limit in a child process, so the kernel refuses the write half-way.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import javaproperties
import pytest

from runbook.properties import (
    Choice,
    Decisions,
    DecisionsWriter,
    MergedWriter,
    Refused,
    Review,
    Written,
    review,
    review_files,
)

ROOT = Path(__file__).resolve().parent.parent
CHANGED = "changed on disk since this review read it"

LIVE = "".join(f"{line}\n" for line in (
    "## Database",
    "config.dbHost=sm-db-old.internal",
    "config.dbPass=Db-pass-live",
    "## Cluster",
    "cluster.password=clu-pw-live",
    *(f"region.{n:02d}.name=region-{n:02d}-live" for n in range(12)),
    "proxy.enabled=true",
))
TEMPLATE = "".join(f"{line}\n" for line in (
    "## Database",
    "config.dbHost=localhost",
    "config.dbPass=",
    "## Cluster",
    "cluster.password=changeme",
    *(f"region.{n:02d}.name=region-{n:02d}" for n in range(12)),
    "proxy.enabled=false",
    "spring.jackson.default-property-inclusion=non_null",
))


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "live.properties", tmp_path / "template.properties"
    old.write_text(LIVE)
    new.write_text(TEMPLATE)
    return old, new


def reviewed(pair: tuple[Path, Path]) -> Review:
    """The pair's review with one decision that its default is not."""
    result = review_files(*pair)
    result.accept_new("proxy.enabled")
    return result


# --- the decisions file --------------------------------------------------------------


def test_the_decisions_are_written_and_read_back(pair: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    writer = DecisionsWriter(reviewed(pair), path)
    assert writer.write() == Written(path)
    assert Decisions.load(path).entries["proxy.enabled"].action is Choice.ACCEPT_NEW


def test_a_decisions_file_changed_on_disk_since_read_is_refused_once(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    """A colleague's edit made while the review was open: refused, the file as
    they left it; the next write writes over that change."""
    path = tmp_path / "decisions.toml"
    Decisions.from_review(review_files(*pair)).save(path)
    writer = DecisionsWriter(reviewed(pair), path)
    theirs = path.read_text() + "# COLLEAGUE: looked at this\n"
    path.write_text(theirs)

    refused = writer.write()
    assert refused == Refused(f"{path} {CHANGED}", changed=(str(path),))
    assert path.read_text() == theirs

    assert writer.write() == Written(path)
    assert path.read_text() != theirs
    assert Decisions.load(path).entries["proxy.enabled"].action is Choice.ACCEPT_NEW
    # The same edit made again, over what was written here, is another change.
    path.write_text(theirs)
    assert writer.write() == Refused(f"{path} {CHANGED}", changed=(str(path),))
    assert path.read_text() == theirs


def test_a_second_change_after_the_refusal_is_refused_in_turn(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    Decisions.from_review(review_files(*pair)).save(path)
    writer = DecisionsWriter(reviewed(pair), path)
    path.write_text(path.read_text() + "# one\n")
    assert isinstance(writer.write(), Refused)
    theirs = path.read_text() + "# and another\n"
    path.write_text(theirs)

    assert writer.write() == Refused(f"{path} {CHANGED}", changed=(str(path),))
    assert path.read_text() == theirs


def test_a_decisions_file_written_here_is_no_change_on_disk(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    """Written once, the file is what the writer last read: w twice in a review."""
    path = tmp_path / "decisions.toml"
    result = reviewed(pair)
    writer = DecisionsWriter(result, path)
    assert writer.write() == Written(path)
    result.accept_new("spring.jackson.default-property-inclusion")
    assert writer.write() == Written(path)


def test_a_decisions_file_that_cannot_be_used_is_refused_in_its_own_words(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "decisions.toml"
    path.write_text("[keys\n")
    writer = DecisionsWriter(reviewed(pair), path)
    refused = writer.write()
    assert isinstance(refused, Refused) and not refused.changed
    assert refused.why.startswith(f"{path}: line 1"), refused.why
    assert path.read_text() == "[keys\n"


def test_a_decisions_file_that_cannot_be_written_says_why(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    path = tmp_path / "afile" / "decisions.toml"
    assert DecisionsWriter(reviewed(pair), path).write() == Refused(f"{path}: Not a directory")


def test_a_secret_typed_in_is_kept_by_name_and_said(pair: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    result = reviewed(pair)
    result.set_value("cluster.password", "typed-here-pw")
    path = tmp_path / "decisions.toml"
    writer = DecisionsWriter(result, path)
    assert writer.write() == Written(path)
    assert writer.env_needed == [("cluster.password", "RUNBOOK_CLUSTER_PASSWORD")]
    assert "typed-here-pw" not in path.read_text()


# --- the merged file -----------------------------------------------------------------


def test_the_merged_file_is_written_private(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """It holds the database password: a file it replaces loses what group and
    others could do with it."""
    path = tmp_path / "merged.properties"
    path.write_text("old merge\n")
    path.chmod(0o644)
    result = reviewed(pair)
    writer = MergedWriter(result, path)
    assert not writer.done
    assert writer.write() == Written(path)
    assert writer.done
    assert path.read_text(encoding="latin-1") == result.merged_text()
    assert javaproperties.loads(path.read_text())["proxy.enabled"] == "false"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("changes", [("live",), ("template",), ("live", "template")])
def test_the_merged_file_is_refused_while_an_input_changed_on_disk_since_read(
        pair: tuple[Path, Path], tmp_path: Path, changes: tuple[str, ...]) -> None:
    """Diff trial: the live file changed while the review was open (a rotated
    password), and the merge of the file as read would have put the old one back."""
    old, new = pair
    writer = MergedWriter(reviewed(pair), tmp_path / "merged.properties")
    files = {"live": old, "template": new}
    for name in changes:
        files[name].write_text(files[name].read_text().replace("region-00", "region-zero"))
    changed = tuple(str(files[name]) for name in changes)

    assert writer.write() == Refused(f"{' and '.join(changed)} {CHANGED}", changed=changed)
    assert not (tmp_path / "merged.properties").exists()
    assert not writer.done
    assert writer.changed_since_read() == list(changed)


def test_an_input_changed_back_is_no_change(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, _ = pair
    writer = MergedWriter(reviewed(pair), tmp_path / "merged.properties")
    old.write_text(LIVE + "extra=1\n")
    assert isinstance(writer.write(), Refused)
    old.write_text(LIVE)
    assert writer.write() == Written(tmp_path / "merged.properties")


def test_inputs_that_are_no_local_files_are_merged_as_read(tmp_path: Path) -> None:
    """A run's review names the files on the host: nothing here to compare."""
    result = review(LIVE, TEMPLATE, old_name="sm:/usr/local/red5pro/red5-web.properties",
                    new_name=str(tmp_path / "gone.properties"))
    path = tmp_path / "merged.properties"
    assert MergedWriter(result, path).write() == Written(path)


def test_a_merged_file_that_cannot_be_written_says_why(pair: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    path = tmp_path / "merged.properties"
    path.mkdir()
    writer = MergedWriter(reviewed(pair), path)
    assert writer.write() == Refused(f"{path}: not a regular file")
    assert not writer.done


# --- a write cut short ---------------------------------------------------------------

# Cut short by the kernel: a file-size limit below the new content, SIGXFSZ ignored
# so the write fails with EFBIG instead of killing the process.
_CUT_SHORT = """
import resource, signal, sys
from runbook.properties import DecisionsWriter, MergedWriter, review_files
old, new, target, kind, limit = sys.argv[1:]
result = review_files(old, new)
result.accept_new("proxy.enabled")
writer = (MergedWriter if kind == "merged" else DecisionsWriter)(result, target)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), hard))
print(repr(writer.write()))
"""


@pytest.mark.parametrize("kind", ["merged", "decisions"])
def test_a_write_cut_short_leaves_the_file_as_it_was_and_no_draft(
        pair: tuple[Path, Path], tmp_path: Path, kind: str) -> None:
    old, new = pair
    target = tmp_path / f"{kind}.out"
    before = b"# the file as it was\n" if kind == "merged" else \
        Decisions.from_review(review_files(*pair)).dumps().encode()
    target.write_bytes(before)
    limit = 200  # the new content is longer: it is cut at this many bytes
    done = subprocess.run(
        [sys.executable, "-c", _CUT_SHORT, str(old), str(new), str(target), kind, str(limit)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(Refused(f"{target}: File too large")), done.stdout
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["live.properties", "template.properties", target.name])
