"""A terminal that closes (SIGHUP) or a kill (SIGTERM) in the middle of the
cutover: the run stops as a quit-with-detach would, the journal is closed
cleanly, the exit says where the stream manager stands and how to go on, and
nothing of the rehearsal is left running."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = [sys.executable, "-c", "import sys; from runbook.cli import main; sys.exit(main())"]


def env_for(tmp_path: Path) -> dict[str, str]:
    # Nodes take their documented time, so the cutover lasts long enough to
    # be interrupted in the middle of it.
    return {**os.environ, "RUNBOOK_REHEARSAL_PACE": "real", "HOME": str(tmp_path / "home"),
            "NO_COLOR": "1"}


def left_running(sandbox: Path) -> list[str]:
    """Command lines of processes that still mention the sandbox."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(sandbox) in line:
            found.append(f"{proc.name}: {line}")
    return found


def journal_of(sandbox: Path) -> Path:
    (path,) = sorted((sandbox / ".operator" / "runs").glob("*.jsonl"))
    return path


def records(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


# What the properties review draws at any width (below 100 columns its
# title is the two files, without the heading).
EDITOR_DRAWN = b"template"

def read_until(stream: int, wanted: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {wanted!r}; got:\n{seen[-3000:].decode(errors='replace')}"
        ready, _, _ = select.select([stream], [], [], min(left, 1.0))
        if ready:
            try:
                chunk = os.read(stream, 65536)
            except OSError:
                chunk = b""
            assert chunk, f"output ended before {wanted!r}:\n{seen[-3000:].decode()}"
            seen += chunk
    return seen


def read_to_the_end(stream: int, timeout: float) -> bytes:
    """All a terminal's program writes until it closes its side."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(stream, 65536)
            except OSError:  # EIO: every writer has gone
                break
            if not chunk:
                break
            seen += chunk
    return seen


def ctrl_c_as_a_terminal_leaves_it() -> None:
    """In the child, before exec: SIGINT at its default, as a shell gives its
    foreground job. A suite started as a background job of a shell without
    job control (`nohup pytest &` in a script) ignores SIGINT, every child
    inherits that, and runbook rightly keeps ignoring it: the ctrl+c test
    then waited out its 120 s (the full-suite failure of stops 49 and 50)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def headless_rehearsal(sandbox: Path, env: dict[str, str], cwd: Path
                       ) -> subprocess.Popen[bytes]:
    """`runbook rehearse --headless --yes` on `sandbox`, its output on one pipe."""
    return subprocess.Popen([*RUNBOOK, "rehearse", "--headless", "--yes", "--sandbox",
                             str(sandbox)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd, preexec_fn=ctrl_c_as_a_terminal_leaves_it)


def signalled_mid_cutover(sandbox: Path, env: dict[str, str], cwd: Path,
                          sig: signal.Signals) -> tuple[int, str]:
    """A headless rehearsal sent `sig` a second into delete-nodegroups: its
    exit code and all it printed."""
    run = headless_rehearsal(sandbox, env, cwd)
    try:
        assert run.stdout is not None
        said = read_until(run.stdout.fileno(), b"downtime starts now", 240)
        time.sleep(1.0)
        run.send_signal(sig)
        rest, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    return run.returncode, (said + rest).decode(errors="replace")


def end_leftovers(sandbox: Path) -> None:
    """Whatever a test left, so no other test meets it: what names the sandbox,
    and what carries its marker (a `sleep` of jsvc's controlling process)."""
    from runbook.rehearsal.sandbox import owned_processes

    for _ in range(10):  # again while a loop being ended starts another child
        pids = {int(entry.split(":")[0]) for entry in left_running(sandbox)}
        pids |= set(owned_processes(sandbox))
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


@pytest.mark.timeout(900)
def test_sigterm_then_sighup_mid_cutover(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    try:
        interrupted_twice(tmp_path, sandbox)
    finally:
        end_leftovers(sandbox)


def interrupted_twice(tmp_path: Path, sandbox: Path) -> None:
    env = env_for(tmp_path)

    # 1. Headless, killed with SIGTERM while delete-nodegroups waits.
    code, text = signalled_mid_cutover(sandbox, env, tmp_path, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, text[-3000:]
    assert "Traceback" not in text
    assert "stream manager is down since" in text, text[-2000:]
    assert f"runbook rehearse --resume --sandbox {sandbox}" in text
    journal = journal_of(sandbox)
    last = records(journal)[-1]
    assert last["event"] == "run-end" and last["outcome"] == "stopped"
    # The exit code the process ended with (operator trial: the journal, and
    # the report from it, said 3 where the shell saw 143).
    assert last["exit_code"] == 128 + signal.SIGTERM, last
    assert left_running(sandbox) == []

    # 2. The TUI picks the run up; its terminal closes while it waits for the
    # operator: the same clean end, and nothing left behind.
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    tui = subprocess.Popen([*RUNBOOK, "rehearse", "--resume", "--sandbox", str(sandbox)],
                           stdin=side, stdout=side, stderr=side, env={**env, "TERM": "xterm"},
                           cwd=tmp_path, start_new_session=True,
                           preexec_fn=controlling_terminal)
    os.close(side)
    try:
        read_until(main, b"Continue it", 120)
        os.write(main, b"c")
        # The run goes on: preflight looks again first, and waits for the
        # operator.
        read_until(main, b"asks for y", 120)
        time.sleep(2.0)
        os.close(main)  # the terminal goes away: the kernel sends SIGHUP
        tui.wait(timeout=120)
    finally:
        if tui.poll() is None:
            tui.kill()
    assert tui.returncode == 128 + signal.SIGHUP
    lines = journal.read_text().splitlines()
    assert all(json.loads(line) for line in lines), "every record whole"
    assert json.loads(lines[-1])["event"] == "run-end"
    assert json.loads(lines[-1])["exit_code"] == 128 + signal.SIGHUP, lines[-1]
    assert left_running(sandbox) == []


def test_sighup_with_output_to_a_file_still_ends_with_where_it_stands(tmp_path: Path) -> None:
    """Operator trial: a hangup silenced stdout and stderr whatever they were,
    so a run whose output went to a file (nohup, a log) ended mid-line, without
    the down-since line and the command that goes on. Only a terminal that
    hung up is silenced."""
    sandbox = tmp_path / "sandbox"
    log = tmp_path / "run.log"
    try:
        with log.open("wb") as out:
            run = subprocess.Popen([*RUNBOOK, "rehearse", "--headless", "--yes", "--sandbox",
                                    str(sandbox)], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env_for(tmp_path), cwd=tmp_path)
            try:
                deadline = time.monotonic() + 240
                while b"downtime starts now" not in log.read_bytes():
                    assert time.monotonic() < deadline and run.poll() is None, \
                        log.read_text()[-3000:]
                    time.sleep(0.2)
                run.send_signal(signal.SIGHUP)
                run.wait(timeout=120)
            finally:
                if run.poll() is None:
                    run.kill()
        text = log.read_text(errors="replace")
        assert run.returncode == 128 + signal.SIGHUP, text[-3000:]
        assert "Traceback" not in text
        assert "stream manager is down since" in text, text[-2000:]
        assert f"runbook rehearse --resume --sandbox {sandbox}" in text
        assert left_running(sandbox) == []
    finally:
        end_leftovers(sandbox)


@pytest.mark.timeout(300)
def test_a_rehearsal_stopped_by_a_signal_says_its_host_stops_with_it(tmp_path: Path) -> None:
    """Operator trial: a rehearsal killed with SIGTERM said it left "what runs
    on the host to finish there", as a run against a real host rightly does;
    but the rehearsal's host is its own, and stops with it."""
    sandbox = tmp_path / "sandbox"
    env = {**env_for(tmp_path), "RUNBOOK_REHEARSAL_PACE": "fast"}
    run = headless_rehearsal(sandbox, env, tmp_path)
    try:
        assert run.stdout is not None
        said = read_until(run.stdout.fileno(), b"[upload]", 120)
        run.send_signal(signal.SIGTERM)
        rest, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        end_leftovers(sandbox)
    text = (said + rest).decode(errors="replace")
    assert run.returncode == 128 + signal.SIGTERM, text[-3000:]
    stopped = next(line for line in text.splitlines() if "SIGTERM received" in line)
    assert "to finish there" not in stopped, stopped
    assert "rehearsal host stops with it" in stopped, stopped
    assert left_running(sandbox) == []


BUSY_APP = """
import signal, sys
from textual.app import App
from textual.widgets import Static
from screens.terminal import drawing_survives_a_closed_terminal

signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the app goes on drawing, as runbook's does

class Busy(App):
    def compose(self):
        yield Static()
    def on_mount(self):
        self.n = 0
        self.set_interval(0.005, self.tick)
        self.set_timer(3, self.exit)
    def tick(self):
        self.n += 1
        self.query_one(Static).update(str(self.n) * 50)

with drawing_survives_a_closed_terminal():
    Busy().run()
open(sys.argv[1], "w").write("ended")
"""


def test_an_app_drawing_when_its_terminal_closes_still_ends(tmp_path: Path) -> None:
    """Operator trial: the terminal closed during the upload (its progress
    drawn ten times a second) and runbook hung for good, ignoring SIGTERM, its
    sandbox claimed: Textual's writer thread had died on EIO and the frames
    after it filled its queue. Here an app goes on drawing after its terminal
    closed: it must still end when it means to."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    ended = tmp_path / "ended"
    app = subprocess.Popen([sys.executable, "-c", BUSY_APP, str(ended)], stdin=side,
                           stdout=side, stderr=side, cwd=ROOT,
                           env={**os.environ, "TERM": "xterm"}, start_new_session=True)
    os.close(side)
    try:
        read_until(main, b"1", 30)
        time.sleep(0.5)
        os.close(main)
        app.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the app hung once its terminal had gone")
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert ended.read_text() == "ended"


def test_sigterm_to_the_properties_editor_gives_the_terminal_back(tmp_path: Path) -> None:
    """Trial: `runbook diff` killed with SIGTERM (exit 143) left the terminal
    in the alternate screen with mouse reporting on, so the prompt drew over
    the editor and every click typed escape codes into the shell. The editor
    must leave as q q does: the terminal put back, nothing written."""
    data = ROOT / "tests" / "data" / "properties"
    decisions = tmp_path / "decisions.toml"
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    editor = subprocess.Popen(
        [*RUNBOOK, "diff", str(data / "red5-web.properties.live"),
         str(data / "red5-web.properties.6.2.0.b406"), "--decisions", str(decisions)],
        stdin=side, stdout=side, stderr=side, cwd=ROOT,
        env={**os.environ, "TERM": "xterm"}, start_new_session=True)
    os.close(side)
    seen = b""
    try:
        seen = read_until(main, EDITOR_DRAWN, 60)
        time.sleep(0.5)
        editor.send_signal(signal.SIGTERM)
        seen += read_to_the_end(main, 30)
        code = editor.wait(timeout=30)
    finally:
        if editor.poll() is None:
            editor.kill()
            editor.wait()
        os.close(main)
    assert code == 143
    after = seen.rsplit(b"\x1b[?1049h", 1)[-1]  # what came after it entered the screen
    assert b"\x1b[?1049l" in after, after[-400:]  # left the alternate screen
    assert b"\x1b[?1000l" in after, after[-400:]  # and mouse reporting
    assert not decisions.exists()


@pytest.mark.timeout(600)
def test_ctrl_c_in_a_headless_run_is_journalled_as_the_operators_abort(tmp_path: Path) -> None:
    """Review (stop 33): the TUI's abort is journalled as the operator's, but
    ctrl+c in a headless run, the same choice, still read in the report as a
    run cut off with no end recorded."""
    sandbox = tmp_path / "sandbox"
    try:
        code, text = signalled_mid_cutover(sandbox, env_for(tmp_path), tmp_path, signal.SIGINT)
        assert code == 3, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        events = records(journal_of(sandbox))
        aborted = [r for r in events if r["event"] == "aborted"]
        assert aborted and aborted[0]["steps"] == ["delete-nodegroups"], events[-6:]
        assert left_running(sandbox) == []
    finally:
        end_leftovers(sandbox)


def test_the_properties_editor_whose_terminal_closes_exits_129_without_a_traceback(
        tmp_path: Path) -> None:
    """Review: with the terminal gone, the editor's closing lines went to the
    dead terminal's stderr, raised EIO, and it ended with a traceback, exit 1."""
    data = ROOT / "tests" / "data" / "properties"
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    editor = subprocess.Popen(
        [*RUNBOOK, "diff", str(data / "red5-web.properties.live"),
         str(data / "red5-web.properties.6.2.0.b406")],
        stdin=side, stdout=side, stderr=side, cwd=ROOT, env={**os.environ, "TERM": "xterm"},
        start_new_session=True, preexec_fn=controlling_terminal)
    os.close(side)
    try:
        read_until(main, EDITOR_DRAWN, 60)
        time.sleep(0.5)
        os.close(main)  # the terminal closes: the kernel sends SIGHUP
        code = editor.wait(timeout=30)
    finally:
        if editor.poll() is None:
            editor.kill()
            editor.wait()
    assert code == 128 + signal.SIGHUP


def test_a_run_started_with_ctrl_c_ignored_keeps_ignoring_it() -> None:
    """Review: a run started with SIGINT ignored (`runbook ... &` from a script,
    nohup-style wrappers) was aborted by a ctrl+c meant for the foreground
    job: the handler took the ignored disposition for Python's default and
    raised KeyboardInterrupt."""
    script = textwrap.dedent("""
        import asyncio, os, signal
        from runbook.stopping import Stopper

        class Session:
            def abort(self): print("aborted")
            def detach(self, exit_code=None): print("detached")

        async def work():
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(0.3)
            return 7

        async def main():
            stopper = Stopper()
            stopper.watch(Session())
            return await stopper.run(work())

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("code", asyncio.run(main()))
        print("after", signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["code 7", "after True"], done.stdout


@pytest.mark.timeout(600)
def test_a_rehearsal_refused_over_a_cutover_leaves_the_service_as_it_found_it(
        tmp_path: Path) -> None:
    """Operator trial: after a kill -9 mid-cutover the sandbox's service runs
    on, as a real one would. `rehearse` without --resume then adopted it, was
    refused (a cutover under way, exit 2) and stopped it on its way out: the
    host it said it had left unchanged had lost its running server."""
    sandbox = tmp_path / "sandbox"
    env = env_for(tmp_path)
    try:
        code, said = signalled_mid_cutover(sandbox, env, tmp_path, signal.SIGKILL)
        assert code == -signal.SIGKILL, said
        pid = int((sandbox / "run" / "red5pro.pid").read_text().split()[0])
        os.kill(pid, 0)  # runs on after the kill -9, as documented
        again = subprocess.run([*RUNBOOK, "rehearse", "--headless", "--sandbox", str(sandbox)],
                               capture_output=True, text=True, env=env, cwd=tmp_path,
                               timeout=240)
        assert again.returncode == 2, again.stdout + again.stderr
        assert "a cutover began here" in again.stdout + again.stderr
        os.kill(pid, 0)  # ProcessLookupError: the refused rehearsal stopped it
    finally:
        end_leftovers(sandbox)
