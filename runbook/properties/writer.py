"""Writing what a review decided: the decisions file and the merged properties file.

The review editor (and whatever else ends a review with files on disk) asks a writer to
write and is told :class:`Written` or :class:`Refused`; it only says the result. The
policy lives here, with no screen in it:

- A file changed on disk since the review read it is not written over in silence. The
  decisions file is refused once per change (another hand's edit); writing again writes
  over the change that was said, and only that one. The merged file is refused while the
  live file or the template it merges differs from what the review read: merged from the
  file as it was read, it would undo the change (a rotated database password).
- Both files are replaced whole (:func:`~runbook.properties.codec.atomic_write`): a
  failure leaves the file as it was, never cut short. The merged file holds the
  database password and tokens, so it is kept private.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from runbook.properties.codec import atomic_write, encode_properties
from runbook.properties.decisions import Decisions, DecisionsError
from runbook.properties.model import Review
from runbook.visible import visible

__all__ = ["DecisionsWriter", "MergedWriter", "Refused", "Written"]

_CHANGED = "changed on disk since this review read it"


@dataclass(frozen=True, slots=True)
class Written:
    """The file is on disk, whole."""

    path: Path


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was written; the file is as it was.

    ``why`` is one line, naming the file: "PATH: reason", the decisions file's own
    complaint, or "NAME changed on disk since this review read it". ``changed`` names the
    files changed on disk when that is why (empty when the write itself failed)."""

    why: str
    changed: tuple[str, ...] = ()


class DecisionsWriter:
    """Writes a review's decisions to its decisions file, keeping the file's comments."""

    def __init__(self, review: Review, path: Path | str) -> None:
        self.review = review
        self.path = Path(path)
        #: (key, environment variable) for each secret the file stores by name.
        self.env_needed: list[tuple[str, str]] = []
        # The file as this review read it (None: there was none).
        self._read = _contents(self.path)
        # What the file held when a write was refused for a change on disk
        # (None inside: it was gone); None: no refusal stands.
        self._refused_for: tuple[bytes | None] | None = None

    def write(self) -> Written | Refused:
        """Record the review into the file: every key, open ones with a hint.

        Refused once for a change made on disk since the file was read, or last
        written here; the next write writes over that change, and only that one:
        another made after the refusal is refused in turn."""
        on_disk = _contents(self.path)
        if on_disk != self._read and (on_disk,) != self._refused_for:
            self._refused_for = (on_disk,)
            return Refused(f"{self.path} {_CHANGED}", changed=(str(self.path),))
        try:
            decisions = (Decisions.load(self.path) if self.path.exists()
                         else Decisions(name=str(self.path)))
            self.env_needed = decisions.record(self.review)
            decisions.save(self.path)
        except DecisionsError as exc:
            return Refused(str(exc))
        except OSError as exc:
            return Refused(f"{self.path}: {exc.strerror or exc}")
        self._read = _contents(self.path)
        self._refused_for = None
        return Written(self.path)


class MergedWriter:
    """Writes the review's merged properties file, private, once the review is over."""

    def __init__(self, review: Review, path: Path | str) -> None:
        self.review = review
        self.path = Path(path)
        #: Whether a write has put the merged file on disk.
        self.done = False

    def changed_since_read(self) -> list[str]:
        """The live file and template, where read from files, that are no longer
        what the review read (as shown: control characters escaped)."""
        changed = []
        for name, read in ((self.review.old_name, self.review.old_sha256),
                           (self.review.new_name, self.review.new_sha256)):
            try:
                now = hashlib.sha256(Path(name).read_bytes()).hexdigest()
            except OSError:
                continue  # not a file (a run's review), or gone: writing says what it can
            if now != read:
                changed.append(visible(name))
        return changed

    def write(self) -> Written | Refused:
        """Write the merge, unless an input changed on disk since it was read."""
        changed = self.changed_since_read()
        if changed:
            return Refused(f"{' and '.join(changed)} {_CHANGED}", changed=tuple(changed))
        try:
            atomic_write(self.path, encode_properties(self.review.merged_text()), private=True)
        except OSError as exc:
            return Refused(f"{self.path}: {exc.strerror or exc}")
        self.done = True
        return Written(self.path)


def _contents(path: Path) -> bytes | None:
    """A file's bytes, to tell whether it changed; None when there is none."""
    try:
        return path.read_bytes()
    except OSError:
        return None
