"""The one place secrets are recognised and masked.

Every sink (terminal, journal, report, snapshot, screen) passes text through a
:class:`Redactor` before it leaves the process, so a secret that reaches any of
them is a bug here and nowhere else.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable

MASK = "••••••"

# Property and setting names whose values are secrets: `config.dbPass`,
# `aws.accessSecret`, `rest.administratorToken`, `az.clientKey`, `terra.token`,
# `limelight.pwd`, `cluster.password`. "pass" counts only at the end of a name
# (dbPass), so bypass-like words in the middle of a name do not.
_SECRET_NAME = re.compile(
    r"pass$|password|passwd|passphrase|pwd|secret|token|accesskey|clientkey|privatekey"
    r"|apikey|credential"
)


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True when a key's name says its value is a secret."""
    folded = name.lower().replace("_", "").replace("-", "")
    return _SECRET_NAME.search(folded) is not None


def fingerprint(value: str) -> str:
    """A short, stable tag that lets an operator see two secrets are equal
    without seeing either of them."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


def mask_value(value: str) -> str:
    """How a secret value is shown: masked, with its fingerprint when non-empty."""
    if value == "":
        return ""
    return f"{MASK} [{fingerprint(value)}]"


class Redactor:
    """Masks every known secret value inside free text.

    Secrets are registered as they become known (token read from the
    environment, password read from a prompt, secret properties read from the
    host). Longer secrets are replaced first so that a secret containing
    another one is not half-masked.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short values ("1", "no") would mask unrelated text everywhere;
        # they are not secrets anyone relies on, so they are not registered.
        if not secret or len(secret) < 4 or secret in self._secrets:
            return
        self._secrets.add(secret)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_properties(self, properties: dict[str, str]) -> None:
        """Register the values of every secret-named key of a properties map."""
        for key, value in properties.items():
            if is_secret_key(key):
                self.add(value)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: mask_value(m.group(0)), text)

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets
