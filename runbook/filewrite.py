"""Replacing a file on the host whole, or not at all.

The bytes first travel over SFTP to the SSH user's own staging folder
(:func:`stage`); one privileged script (:func:`install_script`) then checks
them and renames a verified copy over the target. A Remote's replace_file
(runbook.remote.Remote.replace_file) is this, over the host's one connection.

The staged copy can carry secrets (the merged red5-web.properties holds the
database password and the API token), so it does not outlive its use: the
script removes it however it ends, a failure the host answered removes it,
and staging another version of a file removes the copies of its earlier
ones. It stays only where the connection went before it could be removed:
then the error says where it is (operator trial 54, F14).
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from dataclasses import dataclass

import asyncssh

from runbook.sftp import SFTP_LOST, SshConnection, sftp_reason, size_in
from runbook.shell import (
    AS_IT_WAS,
    OTHERS_CAN_WRITE,
    SHA256_OF_STDIN,
    CommandTimeout,
    OutcomeUnknown,
    RemoteError,
    others_can_write,
    private_folder,
    privileged_script,
    quote,
)

# The install script's exit status when the staged copy is not the bytes sent.
_STAGED_WRONG = 3
_STAGE_CHUNK = 1 << 20
# Removing a staged copy after a failure: a moment's work, never a long wait
# on top of the failure the operator is to be told of.
_DISCARD_TIMEOUT_S = 10.0


@dataclass
class Sending:
    """How far :func:`stage` got: whether the staged file may hold any of the content."""

    content_there: bool = False


async def stage(ssh: SshConnection, data: bytes, remote: str, *, timeout: float,
                sending: Sending | None = None) -> None:
    """Send `data` to the file `remote` over SFTP, carrying on from what an
    interrupted upload left there.

    What is already there is trusted only as far as its size: parallel SFTP
    writes can leave holes behind a cut, so whoever uses the file checks its
    sha256 (see :func:`install_script`). `sending` learns whether the file
    may hold any of `data`, for a failure to say so."""
    sending = sending if sending is not None else Sending()
    conn = await ssh.connect()
    try:
        async with asyncio.timeout(timeout), conn.start_sftp_client() as sftp:
            have = await size_in(sftp, remote)
            sending.content_there = have > 0
            if have == len(data):
                return
            if have > len(data):  # not a start of these bytes: begin again
                have = 0
            # Owner-only from its first byte: the content can hold passwords.
            attrs = asyncssh.SFTPAttrs(permissions=0o600)
            async with sftp.open(remote, "r+b" if have else "wb", attrs,
                                 encoding=None) as file:
                for offset in range(have, len(data), _STAGE_CHUNK):
                    sending.content_there = True
                    await file.write(data[offset:offset + _STAGE_CHUNK], offset)
    except TimeoutError:
        raise CommandTimeout(
            f"{ssh.target}: sending {remote} did not finish within {timeout:g}s"
        ) from None
    except SFTP_LOST as exc:
        ssh.forget()
        raise OutcomeUnknown(
            f"{ssh.target}: the SSH connection was lost while sending {remote} "
            f"({type(exc).__name__})"
        ) from None
    except asyncssh.SFTPError as exc:
        raise RemoteError(f"{ssh.target}: cannot write {remote} "
                          f"{sftp_reason(exc)}") from None


async def replace_file(
    ssh: SshConnection, path: str, data: bytes, *, staging_dir: str, timeout: float,
    upload_timeout: float, private_as: str | None = None,
) -> None:
    """Put `data` in place of the file at `path`: whole, or not at all.

    `cat > tmp && mv tmp path` commits whatever arrived when the connection
    drops, since `cat` takes the cut for the end of its input. So the bytes
    first travel over SFTP to the SSH user's own `staging_dir`, and only
    then one privileged script checks them and renames a verified copy over
    the target (:func:`install_script`). Whatever the connection does, the
    target is the old file or the whole new one; a cut whose outcome did
    not come back raises :class:`OutcomeUnknown`. The content is never on a
    command line, so never in `ps` or the journal. It keeps the target's
    owner and mode, or takes those of `private_as`.
    """
    if not path.startswith("/"):
        raise ValueError(f"{path}: the file to replace must be given by its absolute path")
    digest = hashlib.sha256(data).hexdigest()
    name = posixpath.basename(path)
    staged = f"{staging_dir.rstrip('/')}/{name}.{digest}"
    # With the folder's check, the copies of this file's earlier versions go:
    # a merge changed since a failed try is staged under another name.
    made = await ssh.run(f"{private_folder(staging_dir)} && "
                         f"{{ {clear_earlier(staging_dir, name, keep=staged)}; }}",
                         timeout=timeout)
    if made.exit_status == OTHERS_CAN_WRITE:
        raise RemoteError(f"{ssh.target}: {others_can_write(staging_dir, ssh.host.user)}")
    if not made.ok:
        raise RemoteError(
            f"{ssh.target}: {staging_dir} is not a folder owned by {ssh.host.user}; "
            "another account could swap the staged file before it is installed as root. "
            "Choose another install.upload_dir")
    command = privileged_script(
        install_script(staged, path, len(data), digest, private_as=private_as),
        ssh.host.sudo)
    sending = Sending()
    for _attempt in range(2):
        try:
            await stage(ssh, data, staged, timeout=upload_timeout, sending=sending)
        except OutcomeUnknown as exc:
            # Cut or stalled while sending: what arrived stays, for the next
            # try to go on from (the host may not even be reachable to remove it).
            # The install has not run in this try (review 55b L1: it said
            # "either as it was or wholly replaced ...: look at it"; a try
            # before this one stopped at the staged copy's check).
            kept = ". " + _stays(staged, private_as, "What arrived of the new content",
                                 " for the next try to go on from")
            kept = kept if sending.content_there else ""
            raise type(exc)(f"{exc}; {path} is as it was{kept}") from None
        except RemoteError as exc:
            # Refused while staging (a full disk): the target was never touched.
            kept = await _discard(ssh, staged, private_as, "what arrived of the new content",
                                  timeout=timeout)
            raise RemoteError(f"{exc}; {path} is as it was{kept}") from None
        try:
            result = await ssh.run(command, timeout=timeout)
        except OutcomeUnknown as exc:
            # The script runs on without its connection, and removes the
            # staged copy however it ends.
            raise type(exc)(f"{exc}; {path} is either as it was or wholly replaced, never "
                            "cut short: look at it before going on") from None
        except RemoteError as exc:
            # Nothing ran, and the connection is gone: the copy stays whole.
            kept = f", and {_stays(staged, private_as, 'the new content', ' for the next try')}"
            raise RemoteError(f"{exc}; {path} is as it was{kept}") from None
        # A wrong staged copy has been removed: sending again starts afresh.
        if result.exit_status != _STAGED_WRONG:
            break
    if result.ok:
        return
    reason = result.last_error_line() or f"exit status {result.exit_status}"
    if result.exit_status == _STAGED_WRONG:
        # Not "sending again", as the script says: both tries are spent
        # (review 55b L3).
        reason = f"{staged}: not the bytes sent, on both tries; check the disk it is on"
    # The script removes the copy as it ends; not if it never ran (sudo
    # refused) or was killed before its end.
    kept = await _discard(ssh, staged, private_as, "the new content", timeout=timeout)
    if result.exit_status is not None and result.exit_status < 0:
        # Killed by a signal from outside: where it stopped is not known.
        raise OutcomeUnknown(f"{ssh.target}: replacing {path} was stopped ({reason}); it "
                             f"is either as it was or wholly replaced, never cut short{kept}")
    raise RemoteError(f"{ssh.target}: could not replace {path}: {reason}; it is as it "
                      f"was{kept}")


def _stays(staged: str, private_as: str | None, what: str, why: str = "") -> str:
    """Where a staged copy is left, and, if it carries a file's secrets, so."""
    said = f"{what} stays in {staged}{why}"
    if private_as:
        said += f"; it holds the secrets of {private_as}: delete it if you give up this change"
    return said


async def _discard(ssh: SshConnection, staged: str, private_as: str | None,
                   what: str, *, timeout: float) -> str:
    """Remove the staged copy after a failure, as the SSH user; best effort,
    so any failure of its own is not reported in place of the first one.
    What the operator is to be told if the copy stays, else "". Bounded as
    a whole, a reconnect included (review 55b L2: a lost connection first
    waited out a whole reconnect, 120 s, on top of the failure)."""
    try:
        async with asyncio.timeout(min(_DISCARD_TIMEOUT_S, timeout)):
            removed = await ssh.run(f"rm -f -- {quote(staged)}",
                                    timeout=min(_DISCARD_TIMEOUT_S, timeout))
        if removed.ok:
            return ""
    except (RemoteError, TimeoutError):
        pass
    return f", and {_stays(staged, private_as, what)}"


def clear_earlier(folder: str, name: str, *, keep: str) -> str:
    """The command, run as the SSH user, that removes from `folder` the copies
    staged of a file called `name` but `keep`: only regular files, owned by
    the user, named exactly `name`, a dot and 64 lowercase hex digits (a
    sha256, as :func:`replace_file` names them). Always succeeds: what it
    cannot remove stays."""
    pattern = quote(f"{folder.rstrip('/')}/{name}.") + "[0-9a-f]" * 64
    return (f'for f in {pattern}; do '
            # No match leaves the pattern itself: a name too long for any file.
            f'if [ "$f" != {quote(keep)} ] && [ -f "$f" ] && [ ! -L "$f" ] && [ -O "$f" ]; '
            f'then rm -f -- "$f" || :; fi; '
            f'done; :')


def install_script(staged: str, target: str, size: int, digest: str, *,
                   private_as: str | None = None) -> str:
    """The one script, run as root, that puts the staged file in place of `target`.

    Run one at a time per upload folder, it checks the staged bytes (a waiting
    run finds them gone and says so), keeps the target as it was the first time
    (`.runbook-bak`, never overwritten), copies the bytes beside the target
    (same folder: the rename is then atomic), gives them the target's owner
    and mode (`private_as`'s, and its access list, for content that carries
    that file's secrets), checks them again and only then renames them over
    the target. However it ends, it removes the staged copy. It prints
    nothing unless it fails: a dropped connection closes its output, and a
    write then would kill it half-way through.
    """
    s, t = quote(staged), quote(target)
    like = quote(private_as or "")
    new, bak = quote(f"{target}.runbook-new"), quote(f"{target}{AS_IT_WAS}")

    def fail(message: str, status: int = 1) -> str:
        return f"{{ echo {quote(message)} >&2; exit {status}; }}"

    return "\n".join([
        "set -e",
        # The copy beside the target holds the content before it has the
        # target's mode: nobody else may read it meanwhile.
        "umask 077",
        # One at a time: a resumed run can start the same edit while the first
        # attempt's script, orphaned by a drop, still runs, and both would use
        # the same file beside the target.
        f"exec 9< {quote(posixpath.dirname(staged))}",
        "if command -v flock >/dev/null 2>&1; then flock 9; fi",
        # However it ends, the staged copy goes too: it can hold secrets, and
        # a retry sends it again (a script cut off from runbook runs on).
        f"trap {quote(f'rm -f -- {new} {s}')} EXIT",
        f"sha() {{ {{ {SHA256_OF_STDIN}; }} < \"$1\" | cut -d' ' -f1; }}",
        f"if [ ! -f {s} ] || [ \"$(wc -c < {s})\" -ne {size} ] || [ \"$(sha {s})\" != {digest} ]",
        f"then {fail(f'{staged}: not the bytes sent; sending again', _STAGED_WRONG)}",
        "fi",
        f"[ -f {t} ] || {fail(f'{target}: no such file')}",
        *([f"[ -f {like} ] || {fail(f'{private_as}: no such file')}"] if private_as else []),
        f"if [ ! -e {bak} ]; then cp -p -- {t} {new}; mv -f -- {new} {bak}; fi",
        f"rm -f -- {new}",
        f"cp -- {s} {new}",
        # Owner and mode of the target; of `private_as`, with its access
        # list too, which a service may read the live file by (second review).
        *([f"cp --attributes-only --preserve=mode,ownership -- {like} {new}"] if private_as
          else [f"chown --reference={t} -- {new}", f"chmod --reference={t} -- {new}"]),
        f"[ \"$(sha {new})\" = {digest} ] || {fail(f'{target}: the copy beside it is wrong')}",
        # On disk before the rename, so a power cut cannot leave the new name
        # on an empty file (plain sync where coreutils is too old for a name).
        f"sync -- {new} 2>/dev/null || sync",
        f"mv -f -- {new} {t}",
    ])
