"""Curl lines: what an API call looks like typed by hand, as a pure function.

Plans show every Stream Manager call as a line the operator can copy and run,
so the line must be exactly the request the runbook makes, with the admin
token left as a reference (``"$SM_API_TOKEN"``) rather than its value and a
secret field of a body masked (redact.secret_fields_masked). The reference
is not percent-encoded (no curl before 7.87 can encode a query beside a
body): where the token needs it, the run says so once (token_to_encode). No
client, no network: a plan can be printed before anything is connected.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runbook.redact import secret_fields_masked

# Shown in a plan's curl lines when no version has been chosen or detected yet.
VERSION_PLACEHOLDER = "<api-version>"

_ENV_REFERENCE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")


@dataclass(frozen=True)
class ApiTarget:
    """Where the calls go: the stream manager's base URL and API version."""

    base_url: str
    version: str | None
    token_hint: str = "$SM_API_TOKEN"


# What a servlet's getParameter reads back as written from a raw query
# value: RFC 3986's unreserved characters and the sub-delimiters and others
# a query may hold, less & and + (a & ends the value, a + is read as a
# blank), % (an escape) and # (the URL's end).
_AS_WRITTEN = re.compile(r"[A-Za-z0-9\-._~!$'()*,;:@/?=]*")
ENCODE_TOKEN = "token-to-encode"


def token_needs_encoding(token: str) -> bool:
    """Whether a curl line, which carries the token as written in its query
    (?accessToken="$SM_API_TOKEN"), sends another token than runbook's own
    call, which percent-encodes it (facts audit 61, F14)."""
    return _AS_WRITTEN.fullmatch(token) is None


def token_to_encode(name: str) -> str:
    """What the run says, once, of such a token: by its name, never its value."""
    return (f"warning: {name} holds a character a URL query must percent-encode (such as "
            "+ & % # or a blank): runbook's own calls encode it, the curl lines shown do not, "
            "so percent-encode it before running one of them by hand")


def api_path(rel: str, version: str | None) -> str:
    """``admin/nodegroup`` -> ``/streammanager/api/4.0/admin/nodegroup``."""
    return f"/streammanager/api/{version or VERSION_PLACEHOLDER}/{rel.lstrip('/')}"


def curl_line(target: ApiTarget, method: str, path: str,
              body: dict[str, Any] | None = None) -> str:
    """The curl command for one call.

    ``path`` is relative to the versioned API root (``admin/nodegroup``) or a
    full ``/streammanager/...`` path. The token appears only as the target's
    hint; an environment variable reference stays outside single quotes so the
    shell expands it."""
    full = path if path.startswith("/streammanager/") else api_path(path, target.version)
    parts = urlsplit(target.base_url.rstrip("/"))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    # A path may carry a query of its own (admin/alarm/...?type=edge).
    joint = "&" if "?" in full else "?"
    url = shlex.quote(f"{base}{full}{joint}accessToken=")
    hint = target.token_hint
    url += f'"{hint}"' if _ENV_REFERENCE.fullmatch(hint) else shlex.quote(hint)
    words = ["curl", "-sS", "-X", method.upper(), url]
    if body is not None:
        # Shown and journalled, never run by runbook: a secret field is masked.
        shown = secret_fields_masked(body)
        words += ["-H", shlex.quote("Content-Type: application/json"),
                  "-d", shlex.quote(json.dumps(shown, separators=(",", ":"), ensure_ascii=False))]
    return " ".join(words)
