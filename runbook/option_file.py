"""The `[client]` option file MariaDB's and MySQL's clients read a login from.

One writer for the steps (the live login, sent on the client's stdin) and
the rehearsal (its stand-in servers' and fake client's files), so a password
that survives one survives the other.
"""

from __future__ import annotations


def quote_option(value: str) -> str:
    """A value for an option file that reads back as exactly `value`: quoted,
    since `#` starts a comment anywhere on a line, and with the escapes the
    clients read (a line break would otherwise end the value)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\r", "\\r").replace("\t", "\\t") + '"'


def option_file(user: str, password: str) -> str:
    """`[client]` with a user and a password, each quoted so it survives whole."""
    return f"[client]\nuser={quote_option(user)}\npassword={quote_option(password)}\n"
