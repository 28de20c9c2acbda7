"""The host's claim (runbook.claim) as the host's own shell runs it: each
command run by a real bash on real files on this machine, as sshd hands it
to the SSH user's login shell. Place(sudo=False): the SSH user stands for
root; the script is the same under `sudo -n` (test_real_sshd runs it there).

Review 62 (G3-G7): what a login shell prints before the answer, machines of
one name, a claim folder that is a link, two writers of the holder at once,
and a sudo that needs a terminal."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from pathlib import Path

from runbook import claim as host_claim
from runbook.shell import CommandResult


class LocalShell:
    """The host's shell as this machine's bash, HOME given; `banner` is what
    a noisy rc file of the login shell prints on an exec request, before the
    command's own output."""

    target = "ops@sm:22"

    def __init__(self, home: Path, banner: str = "", path: str | None = None) -> None:
        self.home, self.banner = home, banner
        self.env = {**os.environ, "HOME": str(home), "PATH": path or os.environ["PATH"]}

    async def run(self, command: str, **options: object) -> CommandResult:
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-c", command], capture_output=True, text=True,
            timeout=30, env=self.env)
        return CommandResult(command, done.returncode, self.banner + done.stdout, done.stderr)


def test_a_sudo_that_needs_a_terminal_is_told_to_drop_requiretty() -> None:
    """Review 62, G7: `Defaults requiretty` (older RHEL images) makes sudo
    answer "you must have a tty", and the operator was told to allow
    password-less sudo, which one who has NOPASSWD already cannot act on."""
    said = host_claim.sudo_trouble(CommandResult(
        "sudo -n true", 1, "", "sudo: sorry, you must have a tty to run sudo\n"))
    assert said is not None
    what, to_do = said
    assert "tty" in what, what
    assert "Defaults requiretty" in to_do and "visudo" in to_do, to_do
    assert "password-less" not in to_do, to_do


def _holder_of(install: Path) -> Path:
    return install / host_claim.NAME / "holder"


def test_a_banner_before_the_answer_is_not_read_as_another_runs_claim(tmp_path: Path) -> None:
    """Review 62, G3: the claim read its answer from the first line of
    stdout, and a login shell's rc file may print before it on an exec
    request (the house reads its own answers after a marker: jobs.
    parse_status). The claim was made, then read as held by "one whose
    record is still being written": the run refused, its own claim left on
    the host."""
    install = tmp_path / "opt"
    install.mkdir()
    host = LocalShell(tmp_path, banner="Welcome to prod-sm-1\nauthorised use only\n")
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    claim, note = asyncio.run(host_claim.take(host, mine, place))  # type: ignore[arg-type]
    assert (claim, note) == (mine, None)
    assert host_claim.parse(_holder_of(install).read_text()) == mine
    # Resumed: its own claim, taken again.
    assert asyncio.run(host_claim.take(host, mine, place)) == (mine, None)  # type: ignore[arg-type]


def test_a_banner_before_the_answer_does_not_hide_a_claim_taken_meanwhile(
        tmp_path: Path) -> None:
    """Review 62, G3: the look before the cutover (taken_from_us) read "not
    taken" whatever the holder said, with a banner before its answer: it
    failed open just before the cutover; and the refusal named nobody."""
    install = tmp_path / "opt"
    install.mkdir()
    host = LocalShell(tmp_path, banner="Last login: Mon Dec  7 09:00:00 2026\n")
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
    theirs = host_claim.Claim("ann", "laptop-2", 4242, "/b/run.jsonl",
                              "2026-12-07T00:00:00+00:00")
    _holder_of(install).write_text(theirs.text())
    taken = asyncio.run(host_claim.taken_from_us(host, mine, place))  # type: ignore[arg-type]
    assert taken == theirs
    try:
        asyncio.run(host_claim.take(host, host_claim.mine("/c/run.jsonl"), place))  # type: ignore[arg-type]
    except host_claim.HostClaimed as refused:
        assert "ann on laptop-2 (pid 4242)" in refused.said, refused.said
    else:
        raise AssertionError("a claim held by another machine's run was not refused")


def test_a_claim_folder_that_is_a_link_is_refused_not_written_through(tmp_path: Path) -> None:
    """Review 62, G5: install.dir/.runbook-claim planted as a link to another
    folder (install.dir writable by a non-root account): `mkdir` failed on
    it, `[ -d ]` followed it, and --take-over-host had root write the holder
    into the folder it names; the release then removed the link alone,
    leaving that file there. A claim folder that is a link is refused, in
    one line saying what to do, and nothing is written through it."""
    install = tmp_path / "usr-local"
    install.mkdir()
    elsewhere = tmp_path / "etc-cron.d"
    elsewhere.mkdir()
    link = install / host_claim.NAME
    link.symlink_to(elsewhere)
    host = LocalShell(tmp_path)
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    for over in (False, True):
        try:
            asyncio.run(host_claim.take(host, mine, place, over=over))  # type: ignore[arg-type]
        except host_claim.HostClaimed as refused:
            raise AssertionError(f"read as another run's claim: {refused.said}") from None
        except host_claim.ClaimRefused as refused:
            said = refused.said
            assert "\n" not in said, said
            assert place.where in said and "link" in said, said
            assert f"rm {place.where}" in said and "Nothing was changed" in said, said
        else:
            raise AssertionError(f"a link was taken for the claim (over={over})")
    marked = asyncio.run(host_claim.mark(  # type: ignore[arg-type]
        host, dataclasses.replace(mine, cutover="2026-12-07T00:00:00+00:00"), place))
    assert marked is not None and "link" in marked, marked
    asyncio.run(host_claim.release(host, mine, place))  # type: ignore[arg-type]
    assert sorted(p.name for p in elsewhere.iterdir()) == [], "root wrote through the link"
    assert link.is_symlink(), "the link is the operator's to look at, and stays"


def _meanwhile(tmp_path: Path, command: str) -> tuple[str, Path]:
    """A PATH whose `mv` and `rm` first run `command` (another writer of the
    claim, whole, as root) once, where `armed` is there: what a colleague's
    runbook does on the host at that very moment. Then the real tool."""
    import shutil

    hooks, armed = tmp_path / "hooks", tmp_path / "armed"
    hooks.mkdir()
    (hooks / "meanwhile.sh").write_text(command)
    for tool in ("mv", "rm"):
        real = shutil.which(tool)
        (hooks / tool).write_text(
            f"#!/bin/sh\nif [ -e {armed} ]; then /bin/rm -f {armed}; "
            f"PATH={os.environ['PATH']} bash {hooks / 'meanwhile.sh'}; fi\n"
            f'exec {real} "$@"\n')
        (hooks / tool).chmod(0o755)
    armed.touch()
    return f"{hooks}:{os.environ['PATH']}", armed


def _other_machines(journal: str) -> host_claim.Claim:
    return host_claim.Claim("ann", "laptop-2", 4242, journal, "2026-12-07T00:00:00+00:00")


def test_a_take_over_as_the_claim_is_marked_holds_what_it_wrote(tmp_path: Path) -> None:
    """Review 62, G6: the mark and a take-over wrote one temporary file,
    holder.new, each then moving it into place: a take-over whose move came
    after a whole mark (which read the holder as still this run's) found its
    file gone, and was told it could not claim the host, nothing changed,
    while the holder it had read was replaced. Each writer moves its own."""
    install = tmp_path / "opt"
    install.mkdir()
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
    read = _holder_of(install).read_text()
    marked = dataclasses.replace(mine, cutover="2026-12-07T00:00:00+00:00")
    path, armed = _meanwhile(tmp_path, place.command(host_claim.mark_command(marked)))
    taker = _other_machines("/b/run.jsonl")
    done = asyncio.run(LocalShell(tmp_path, path=path).run(
        place.command(host_claim.retake_command(taker, replacing=read))))
    assert not armed.exists(), "the mark ran as the take-over moved its holder"
    assert done.exit_status == 0 and host_claim.answer_of(done.stdout)[:1] == ["taken"], done
    assert host_claim.parse(_holder_of(install).read_text()) == taker


def test_a_take_over_as_the_claim_is_let_go_is_not_removed(tmp_path: Path) -> None:
    """Review 62, G6: the release looked whether the claim was this run's,
    then removed the folder: a colleague's --take-over-host landing between
    the two was removed with it, and the host read as free while that run
    went on. The claim goes only where what is removed is this run's."""
    install = tmp_path / "opt"
    install.mkdir()
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
    read = _holder_of(install).read_text()
    taker = _other_machines("/b/run.jsonl")
    path, armed = _meanwhile(tmp_path, place.command(host_claim.retake_command(
        taker, replacing=read)))
    asyncio.run(host_claim.release(LocalShell(tmp_path, path=path), mine, place))  # type: ignore[arg-type]
    assert not armed.exists(), "the take-over ran as the claim was let go"
    assert _holder_of(install).is_file(), "the taker's claim was removed"
    assert host_claim.parse(_holder_of(install).read_text()) == taker
    assert [p.name for p in install.iterdir()] == [host_claim.NAME], "nothing left beside it"
    # With nobody meanwhile, the claim goes, and nothing of it stays.
    asyncio.run(host_claim.release(LocalShell(tmp_path), taker, place))  # type: ignore[arg-type]
    assert list(install.iterdir()) == []


def _held_by(install: Path, text: str) -> None:
    (install / host_claim.NAME).mkdir(exist_ok=True)
    _holder_of(install).write_text(text)


def _as_written(claim: host_claim.Claim, **fields: object) -> str:
    """`claim`'s holder text with `fields` said otherwise, or added: as
    another machine's runbook (or another boot's) would have written it."""
    said = dict(line.split("=", 1) for line in claim.text().splitlines())
    said.update({key: str(value) for key, value in fields.items()})
    return "".join(f"{key}={value}\n" for key, value in said.items())


def test_a_live_run_of_another_machine_of_the_same_name_is_not_taken_over_unasked(
        tmp_path: Path) -> None:
    """Review 62, G4: machines were told apart by hostname alone. A live run
    on another machine named alike (cloned jump boxes, laptops left at the
    vendor's name, containers given one --hostname), same login, has a pid
    that does not run here: its claim was "a run that is gone", taken over
    without --take-over-host; and one with the same journal path (the same
    login's state folder) was taken for this run's own. The machine's id
    tells them apart."""
    mine = host_claim.mine("/a/run.jsonl")
    twin = dataclasses.replace(mine, pid=4_000_000)
    for n, journal in enumerate(("/their/run.jsonl", mine.journal)):
        theirs = _as_written(dataclasses.replace(twin, journal=journal),
                             machine_id="0" * 32, boot_id="another-machines-boot")
        install = tmp_path / f"opt-{n}"
        install.mkdir()
        _held_by(install, theirs)
        place = host_claim.Place(str(install), sudo=False)
        try:
            asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
        except host_claim.HostClaimed as refused:
            assert "--take-over-host" in refused.said, refused.said
        else:
            raise AssertionError(f"taken over unasked from {theirs}")
        assert _holder_of(install).read_text() == theirs
        # Told, it takes it: that run is not seen running here.
        taken, note = asyncio.run(host_claim.take(  # type: ignore[arg-type]
            LocalShell(tmp_path), mine, place, over=True))
        assert note is not None and "--take-over-host" in note.said, note
        assert host_claim.parse(_holder_of(install).read_text()) == taken


def test_a_run_of_this_machine_before_its_reboot_is_gone_whatever_runs_at_its_pid(
        tmp_path: Path) -> None:
    """Review 62, G4: the boot id tells whether a pid is the claim's process:
    after a reboot a runbook may run at the pid the claim names, and the
    claim's run was "still running on this machine", every run refused,
    --take-over-host too. A claim of an earlier boot of this machine is a
    gone run's; of this boot, the run at its pid is still seen running."""
    install = tmp_path / "opt"
    install.mkdir()
    place = host_claim.Place(str(install), sudo=False)
    # A runbook at that pid now (its command line names runbook).
    runbook = subprocess.Popen(["bash", "-c", "exec -a runbook sleep 60"])
    try:
        mine = host_claim.mine("/a/run.jsonl")
        earlier = dataclasses.replace(mine, pid=runbook.pid, journal="/gone/run.jsonl")
        _held_by(install, _as_written(earlier, boot_id="an-earlier-boot"))
        taken, note = asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
        assert note is not None and "from a run that is gone" in note.said, note
        assert host_claim.parse(_holder_of(install).read_text()) == taken

        _held_by(install, earlier.text())  # of this boot
        try:
            asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place, over=True))  # type: ignore[arg-type]
        except host_claim.HostClaimed as refused:
            assert f"still runs on this machine (pid {runbook.pid})" in refused.said, refused
        else:
            raise AssertionError("a run of this boot at its pid was taken over")
    finally:
        runbook.kill()
        runbook.wait()


def test_an_older_holder_without_the_machines_id_is_read_by_its_hostname(
        tmp_path: Path) -> None:
    """A claim an older runbook wrote has no machine or boot id: read as
    then, by hostname: this machine's and login's with its pid gone is a
    gone run's, taken over and said; this machine's with a runbook at its pid
    is still running; and another hostname's is refused."""
    install = tmp_path / "opt"
    install.mkdir()
    place = host_claim.Place(str(install), sudo=False)
    mine = host_claim.mine("/a/run.jsonl")
    older = "".join(line + "\n" for line in mine.text().splitlines()
                    if line.split("=")[0] in ("login", "machine", "since"))
    _held_by(install, older + "pid=4000000\njournal=/gone/run.jsonl\n")
    taken, note = asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
    assert note is not None and "from a run that is gone" in note.said, note
    assert host_claim.parse(_holder_of(install).read_text()) == taken == mine

    runbook = subprocess.Popen(["bash", "-c", "exec -a runbook sleep 60"])
    try:
        _held_by(install, older + f"pid={runbook.pid}\njournal=/b/run.jsonl\n")
        try:
            asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place, over=True))  # type: ignore[arg-type]
        except host_claim.HostClaimed as refused:
            assert f"still runs on this machine (pid {runbook.pid})" in refused.said, refused
        else:
            raise AssertionError("an older holder's run at its pid was taken over")
    finally:
        runbook.kill()
        runbook.wait()
    _held_by(install, older.replace(f"machine={mine.machine}", "machine=laptop-2")
             + "pid=4000000\njournal=/b/run.jsonl\n")
    try:
        asyncio.run(host_claim.take(LocalShell(tmp_path), mine, place))  # type: ignore[arg-type]
    except host_claim.HostClaimed as refused:
        assert "on laptop-2" in refused.said, refused.said
    else:
        raise AssertionError("another hostname's claim was taken over unasked")


def test_a_claim_path_that_is_a_plain_file_is_said_what_it_is_and_what_to_do(
        tmp_path: Path) -> None:
    """Operator trial 62, F8: install.dir/.runbook-claim a plain file (made
    by hand) was refused with mkdir's 'File exists' alone, with or without
    --take-over-host, and no word to look at it and remove it."""
    install = tmp_path / "usr-local"
    install.mkdir()
    (install / host_claim.NAME).write_text("not runbook's\n")
    place = host_claim.Place(str(install), sudo=False)
    for over in (False, True):
        try:
            asyncio.run(host_claim.take(LocalShell(tmp_path), host_claim.mine("/a/run.jsonl"),  # type: ignore[arg-type]
                                        place, over=over))
        except host_claim.ClaimRefused as refused:
            said = refused.said
        else:
            raise AssertionError("a claim path that is a file was taken")
        assert "\n" not in said and "File exists" not in said, said
        for part in ("a file", "not the folder", "look at", f"rm {place.where}",
                     "Nothing was changed"):
            assert part in said, said
    assert (install / host_claim.NAME).read_text() == "not runbook's\n"


def test_a_garbled_cutover_time_in_the_holder_is_said_unreadable_not_quoted() -> None:
    """Operator trial 62, F8: a holder's cutover= that is no time was quoted
    raw: 'a cutover begun garbage by bob on x'."""
    other = host_claim.Claim("bob", "x", 4242, "/b/run.jsonl", "2026-12-07T00:00:00+00:00",
                             cutover="garbage")
    said = host_claim.cutover_refusal(other, "sm.toml", goes_on=False, where="/usr/local/c",
                                      removal="sudo rm -r /usr/local/c")
    assert "garbage" not in said and "begun" not in said.split(" by bob")[0], said
    assert "unreadable" in said and "bob on x" in said, said
