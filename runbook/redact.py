"""The one place secrets are recognised and masked.

Every sink (terminal, journal, report, snapshot, screen) passes text through a
:class:`Redactor` before it leaves the process, so a secret that reaches any of
them is a bug here and nowhere else.
"""

from __future__ import annotations

import _thread  # threading's own lock, without loading threading for `diff`
import contextlib
import difflib
import functools
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runbook.statedir import make_private, why_not

MASK = "••••••"
KEY_FILE = "tag-key"
_KEY_BYTES = 32

# The patterns below are kept as text, for re's own functions to compile the
# first time one is used (and keep in re's cache): compiled as the module is
# imported, they and steps.red5's cost `runbook run` about 14 M instructions
# (callgrind, ~2 ms) before its first paint, which uses none of them (issue 12).

# Property and setting names whose values are secrets: `config.dbPass`,
# `aws.accessSecret`, `rest.administratorToken`, `az.clientKey`, `terra.token`,
# `limelight.pwd`, `cluster.password`. "pass" counts only at the end of a name
# (dbPass), so bypass-like words in the middle of a name do not.
_SECRET_NAME = (
    r"pass$|password|passwd|passphrase|pwd|secret|token|accesskey|clientkey|privatekey"
    r"|apikey|credential"
)
# The words a secret's name ends in (found by _SECRET_NAME, or by the word
# rules below: signingkey, encryptionkey, bearer): what a name's last part
# may misspell, and what a command line's setting may end in.
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "accesskey",
                 "clientkey", "privatekey", "apikey", "credential", "signingkey",
                 "encryptionkey", "bearer")


# A name's words: its dotted, dashed and underscored parts, split again where
# camelCase starts a word (dbPassOld: db, Pass, Old).
_WORD = r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+"
# Words that name a secret on their own, and the kinds of key that are one
# (private.key, jwt.signingKey): as a name's last word, or before words that
# only say it is a kept copy (diff trial: config.dbPass.old, dbPass_bak and
# admin.pw were shown). Not elsewhere: admin.passThrough, sso.bearer.header,
# encryptionKeyLength and serverapi.keystore are no secrets (second review).
_SECRET_ALONE = frozenset({"pass", "pw", "pwd", "bearer"})
_SECRET_KEY_KINDS = frozenset({"access", "client", "private", "api", "signing", "encryption",
                               "auth", "shared"})
# Words that end in "pass" and are no password's (dbpass, DBPASS are).
_NOT_A_PASS = frozenset({"bypass", "compass", "surpass", "trespass", "overpass", "underpass"})
_A_COPY = frozenset({"old", "bak", "backup", "prev", "previous", "orig", "original", "save",
                     "saved", "copy", "tmp", "new"})


# A URL that carries its password: scheme://user:password@host.
_URL_PASSWORD = (r"[A-Za-z][\w+.\-]*://[^\s/@:]*:[^\s/@]+@"
                 r"|[?&;](?:password|passwd|pwd)=[^&;\s]")


# A JSON field's name, where its value is a string: "private_key": "...".
_JSON_FIELD = r'"([\w.\-]+)"\s*:\s*"'


def carries_a_password(value: str | None) -> bool:
    """Whether a value holds a URL with a password in it (diff trial: a
    jdbc:mysql://user:password@host URL shown in clear; or ?password=...), or
    JSON with a secret's field (re-trial: a GCP service account's
    "private_key"): the whole value is then a secret's."""
    return value is not None and (re.search(_URL_PASSWORD, value) is not None or any(
        is_secret_key(name) for name in re.findall(_JSON_FIELD, value)))


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True when a key's name says its value is a secret."""
    folded = name.lower().replace("_", "").replace("-", "")
    if re.search(_SECRET_NAME, folded):
        return True
    words = [word.lower() for word in re.findall(_WORD, name)]
    return any(
        (word in _SECRET_ALONE or (word.endswith("pass") and word not in _NOT_A_PASS)
         or (word == "key" and at and words[at - 1] in _SECRET_KEY_KINDS))
        and all(rest in _A_COPY or rest.isdigit() for rest in words[at + 1:])
        for at, word in enumerate(words))


# A setting a command line gives: -Dname=value (a JVM's system property) or
# --name=value; or --name value, its value the next word (not an option).
_GIVEN_SETTING = r"(?:^|\s)(?:-D|--)([\w.\-]+)=(\S+)"
_GIVEN_AS_NEXT_WORD = r"(?:^|\s)--([\w.\-]+)\s+([^\s-]\S*)"
# A name that ends in a secret's word: what the two looser forms below demand,
# since their value is found by where it stands, not by an `=` (second review:
# `--use-token-auth start` masked "start" in every line shown).
_ENDS_AS_A_SECRET = f"(?:pass|pwd|credentials|{'|'.join(_SECRET_WORDS)})$"


def _ends_as_a_secret(name: str) -> bool:
    folded = name.lower().replace("_", "").replace("-", "").replace(".", "")
    return (not name.lower().startswith("no-")
            and re.search(_ENDS_AS_A_SECRET, folded) is not None)


def command_line_secrets(line: str) -> list[str]:
    """The values a command line gives settings whose names say they are
    secrets (-Djavax.net.ssl.keyStorePassword=..., --db-password ...): a
    server's own command line, as a process listing shows it, is no place to
    show them (review; security trial: the second form was shown). A value
    given as the next word counts only where the name ends as a secret's."""
    given = [value for name, value in re.findall(_GIVEN_SETTING, line) if is_secret_key(name)]
    return given + [value for name, value in re.findall(_GIVEN_AS_NEXT_WORD, line)
                    if _ends_as_a_secret(name)]


# How a body's secret field is shown: plainly a stand-in, so a line pasted by
# hand is seen to need the value put back (second review: a masked value
# pasted would have been posted as the password), and without a fingerprint,
# so rendering a line reads no key from the state dir.
MASKED_FIELD = "<masked secret>"


def secret_fields_masked(body: Any) -> Any:
    """A JSON body as a plan, the screen and the journal show it: the value of
    every field whose name ends as a secret's masked, whether a key of its own
    or a {"name"|"key": ..., "value": ...} pair (a launch config's properties
    and metadata; security trial: a vmPassword there went into the journal in
    clear). What is sent is the body itself."""
    if isinstance(body, list):
        return [secret_fields_masked(item) for item in body]
    if not isinstance(body, dict):
        return body
    named = body.get("name", body.get("key"))
    pair = isinstance(named, str) and isinstance(body.get("value"), str) and (
        _ends_as_a_secret(named) or near_a_secret_name(named) is not None)
    return {key: MASKED_FIELD if (pair and key == "value") or (
                isinstance(value, str) and _ends_as_a_secret(key)) else secret_fields_masked(value)
            for key, value in body.items()}


# The secrets Red5's red5-web.properties names (the templates of 5.1, 6.2 and
# the API 4 release, and the AWS guide's sample: runbook/rehearsal/data,
# tests/data/properties): a name a letter away from one of them is a typo of
# it, not a key of its own (near_a_secret_name).
RED5_SECRET_KEYS = ("aws.accessKey", "aws.accessSecret", "az.clientKey", "az.vmPassword",
                    "cluster.password", "config.dbPass", "limelight.pwd",
                    "rest.administratorToken", "serverapi.accessToken", "terra.token")


def near_a_secret_name(name: str) -> str | None:
    """The secret a name that is not a secret's is most likely a typo of
    (`cluster.pasword`: cluster.password), else None: its value must not be
    shown (review). A letter or two away from a secret Red5 names, or a last
    part a letter away from a secret's word; not a word that merely looks
    like one (proxy.secure, node.broken: review)."""
    if is_secret_key(name):
        return None
    close = difflib.get_close_matches(name, RED5_SECRET_KEYS, n=1, cutoff=0.9)
    if close:
        return close[0]
    last = name.lower().replace("_", "").replace("-", "").rsplit(".", 1)[-1]
    close = difflib.get_close_matches(last, _SECRET_WORDS, n=1, cutoff=0.9)
    return close[0] if close and len(last) >= 5 else None


# The key tags are made with: this user's, read from the state dir the first time
# a tag is needed (None until then). A plain hash would let anyone holding a
# report or a journal confirm a guessed password by hashing the guess.
_tag_key: bytes | None = None
_making_key = _thread.allocate_lock()


def use_tag_key(key: bytes | None) -> bytes | None:
    """Tag with `key` from now on (None: this user's, read when next needed).
    Returns the key it replaces, so a caller can put it back."""
    global _tag_key
    before, _tag_key = _tag_key, key
    return before


# Why the tag key in use is this process's alone (kept_key could not save it),
# for the command line to say once as it ends (operator trial 59, F4); None
# while it is kept.
key_not_kept: str | None = None


def kept_key(folder: Path) -> bytes:
    """The tag key kept in `folder`, made on first use. Written whole or not at
    all, so a crash cannot leave a short key for every later run to trust; a
    damaged one (empty, short) is replaced. A folder that cannot hold it gets
    a key for this process alone: its tags still match each other, only not
    those of another run."""
    global key_not_kept
    path = folder / KEY_FILE
    kept = _read_key(path)
    if len(kept) == _KEY_BYTES:
        return kept
    import tempfile  # only the first run on a machine writes one

    key = os.urandom(_KEY_BYTES)
    draft: Path | None = None
    try:
        make_private(folder)
        handle, name = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=folder)  # 0600, its own
        draft = Path(name)
        with open(handle, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # two first runs at once: the one that lands first wins
        except FileExistsError:
            landed = _read_key(path)
            if len(landed) == _KEY_BYTES:
                return landed
            os.replace(draft, path)  # damaged: nothing tagged with it can be read back
        except OSError:  # a file system without hard links
            os.replace(draft, path)
    except OSError as exc:
        key_not_kept = (f"the secret tag key could not be kept in {path} ({why_not(exc)}); "
                        "the tags of secrets shown this time match no other run's or review's")
        return key
    finally:
        if draft is not None:
            with contextlib.suppress(OSError):
                draft.unlink(missing_ok=True)
    # Two runs that replaced a damaged key at once: the one on disk is the key.
    landed = _read_key(path)
    return landed if len(landed) == _KEY_BYTES else key


def _read_key(path: Path) -> bytes:
    # A regular file only, opened without waiting (a FIFO put in its place
    # would wait for a writer for ever), and no more of it than a key and a byte.
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    with open(handle, "rb") as kept:
        try:
            return kept.read(_KEY_BYTES + 1) if stat.S_ISREG(os.fstat(handle).st_mode) else b""
        except OSError:
            return b""


def fingerprint(value: str) -> str:
    """A short, stable tag that lets an operator see two secrets are equal
    without seeing either of them; keyed, so it confirms no guess."""
    global _tag_key
    if _tag_key is None:
        with _making_key:  # the TUI's worker threads tag too
            if _tag_key is None:
                from runbook.statedir import default_dir  # only once a secret is shown

                _tag_key = kept_key(default_dir())
    import hashlib  # here: only a shown secret needs it, and the first paint does not (issue 12)

    return hashlib.blake2b(value.encode("utf-8"), key=_tag_key, digest_size=4).hexdigest()


def mask_value(value: str) -> str:
    """How a secret value is shown: masked, with its fingerprint when non-empty."""
    if value == "":
        return ""
    return f"{MASK} [{fingerprint(value)}]"


# Shorter secrets are not masked inside free text: "1" or "no" would mask
# unrelated text everywhere. They are masked where they stand as a value of
# their own (_SHORT_AS_A_VALUE), and the run says so once (Redactor.untold_short).
SHORTEST_MASKED_EVERYWHERE = 4

# Where a short secret stands as a value of its own: the whole text, or the
# value of a setting whose name says it is a secret: name=value, name: value
# (a properties line, the option file's password="...", JSON's "name": "...",
# a URL's ?accessToken=..., -Dname=...), or --name value (command_line_secrets).
# `{values}` is filled in with the short secrets.
_SHORT_AS_A_VALUE = (
    r"(?:^|(?<=[\s\"'{{(\[,;?&]))"
    r"(?P<head>(?:(?:-D|--)?(?P<q>[\"']?)(?P<name>[A-Za-z_][\w.\-]*)(?P=q)[ \t]*[=:][ \t]*"
    r"(?P<open>[\"']?))|--(?P<flag>[\w.\-]+)[ \t]+(?P<open2>))"
    r"(?P<value>{values})"
    r"(?=(?:(?P=open)|(?P=open2))(?:$|[\s&;,)}}\]\"']))")


# The journal's note kind for it.
SHORT_SECRET = "short-secret"


def too_short_to_mask(name: str) -> str:
    """What the run says, once, of a secret too short to mask in free text:
    by its name, never its value."""
    return (f"warning: {name} is shorter than {SHORTEST_MASKED_EVERYWHERE} characters, so it "
            "is masked only where it stands as a value of its own (a name=value line), not "
            "inside other output or errors; change it to a longer one")


class Redactor:
    """Masks every known secret value inside free text.

    Secrets are registered as they become known (token read from the
    environment, password read from a prompt, secret properties read from the
    host). Longer secrets are replaced first so that a secret containing
    another one is not half-masked. One shorter than
    SHORTEST_MASKED_EVERYWHERE is masked only where it stands as a value of
    its own; its name waits in untold_short() for the run to say so.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._short: set[str] = set()
        self._short_pattern: re.Pattern[str] | None = None
        self._untold: list[str] = []
        # The patterns are compiled for the first text masked after a secret
        # is added, not as it is added: `runbook run` adds its token before
        # its first paint and masks nothing until it has drawn (issue 12).
        self._stale = False
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, *, name: str = "") -> None:
        """Register `secret` (`name`: what holds it, which untold_short says
        for a short one). One read from a properties file as Java reads it
        (ISO-8859-1) shows in UTF-8 text (a command's output, a log) as the
        characters its bytes spell in UTF-8: both forms are masked (review),
        each by its own length; if either is short the run says so of `name`."""
        if not secret or secret in self._secrets or secret in self._short:
            return
        forms = {secret}
        # Not a UTF-8 text's bytes: the form given is the only one.
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            forms.add(secret.encode("latin-1").decode("utf-8"))
        for form in forms:
            (self._secrets if len(form) >= SHORTEST_MASKED_EVERYWHERE else self._short).add(form)
        self._stale = True
        # Either form may be the short one: the UTF-8 spelling of a value read
        # as ISO-8859-1 has fewer characters than the value as read (review 56c).
        if forms & self._short:
            self._untold.append(name or "a secret")

    def _compile(self) -> None:
        """The patterns of every secret added so far, longest first."""
        if self._secrets:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        if self._short:
            ordered = sorted(self._short, key=len, reverse=True)
            self._short_pattern = re.compile(_SHORT_AS_A_VALUE.format(
                values="|".join(re.escape(s) for s in ordered)), re.MULTILINE)
        self._stale = False

    def untold_short(self) -> list[str]:
        """The names of the short secrets registered since the last call:
        each for the run to say once that it is not masked in free text."""
        untold, self._untold = self._untold, []
        return untold

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if text in self._short:
            return mask_value(text)
        if self._stale:
            self._compile()
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: mask_value(m.group(0)), text)
        if self._short_pattern is not None:
            text = self._short_pattern.sub(_masked_if_named_a_secret, text)
        return text

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets or secret in self._short


def _masked_if_named_a_secret(match: re.Match[str]) -> str:
    name, flag = match.group("name"), match.group("flag")
    if (name is not None and (is_secret_key(name) or near_a_secret_name(name) is not None)) \
            or (flag is not None and _ends_as_a_secret(flag)):
        return match.group("head") + mask_value(match.group("value"))
    return match.group(0)
