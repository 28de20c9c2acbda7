"""The runbook's own share of the downtime, from the journals of whole rehearsals.

Runs `runbook rehearse --headless --yes` in fresh sandboxes (--runs of them) at the
"fast" pace and reads each run's journal: the downtime is cutover-start to
cutover-end. What others spend in it is taken out:

* the fake cloud   each deleted nodegroup's teardown (TERMINATING_S at the pace),
                   counted from the last DELETE's answer; each new origin's boot
                   (RUNNING_UNTIL_S at the pace), from the last launch's answer
* the service      from `systemctl start` being sent to the stream manager's
                   line mapping the streammanager context in the new install's red5.log

What remains is the runbook's: its SSH round trips, checks and verifications,
polling slack, journal writes. The baseline is 0 (a perfect tool); the goal is
under 0.5 s. Prints each run, the median and spread, and where the time went by
step for the median run.

In `runbook rehearse` the rehearsal host (its SSH server, API and cloud) runs in
the runbook's own process and event loop. With --host-apart it runs in a process
of its own (`python -m runbook.rehearsal.host`) and `runbook run --headless --yes`
drives it through the rehearsal config, as it would a production host: the two
figures tell what the shared process costs.

    .venv/bin/python benchmarks/cutover_overhead.py [--runs 3] [--keep DIR] [--host-apart]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from runbook.cli.wiring import rehearsal_config_text, rehearsal_values
from runbook.config import filled
from runbook.rehearsal import cloud
from runbook.rehearsal import sandbox as layout
from runbook.rehearsal.service import READY_LINE


@dataclass
class Measured:
    downtime: float
    teardown: float
    boot: float
    service: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def overhead(self) -> float:
        return self.downtime - self.teardown - self.boot - self.service


def _log_time(line: str) -> float:
    # red5.log: "2026-11-30 16:36:39,226 [..." in the host's local time.
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _epoch(record: dict[str, object]) -> float:
    return datetime.fromisoformat(str(record["ts"])).timestamp()


def measure(journal: Path, sandbox: Path, pace: float) -> Measured:
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    start = next(r for r in records if r["event"] == "cutover-start")
    end = next(r for r in records if r["event"] == "cutover-end")
    calls = [r for r in records if r["event"] == "action-end" and r.get("status") == "ok"]
    starts = {(r["step"], r["attempt"], r["n"]): r for r in records
              if r["event"] == "action-start"}

    def text(r: dict[str, object]) -> str:
        return str(starts[(r["step"], r["attempt"], r["n"])]["text"])

    deletes = [r for r in calls if r["step"] == "delete-nodegroups" and " DELETE " in text(r)]
    launches = [r for r in calls if r["step"] == "recreate" and "/nodegroup/" in text(r)
                and " POST " in text(r)]
    teardown = cloud.TERMINATING_S * pace if deletes else 0.0
    boot = cloud.RUNNING_UNTIL_S * pace if launches else 0.0
    started = [r for r in starts.values() if r["step"] == "start-service"
               and "systemctl start" in str(r["text"])]
    log = layout.red5_home(sandbox) / "log" / "red5.log"
    ready = [line for line in log.read_text().splitlines() if READY_LINE in line]
    service = _log_time(ready[-1]) - _epoch(started[-1]) if started and ready else 0.0
    # Each step's share: from the one before it ended (the downtime's start for
    # the first) to its own end, its check and the claim's look included. The
    # journal's elapsed_s is rounded to a tenth, too coarse for tens of ms.
    steps: dict[str, float] = {}
    since = float(start["mono"])
    for r in records:
        if r["event"] == "step-end" and float(r["mono"]) >= float(start["mono"]):
            steps[str(r["step"])] = float(r["mono"]) - since
            since = float(r["mono"])
    return Measured(float(end["mono"]) - float(start["mono"]), teardown, boot, service, steps)


def rehearse(folder: Path, pace_name: str) -> Measured:
    if folder.exists():
        raise SystemExit(f"{folder} exists: give a folder that does not")
    env = {**os.environ, cloud.PACE_ENV: pace_name}
    done = subprocess.run([sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
                           "--sandbox", str(folder)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the rehearsal failed ({done.returncode}):\n{done.stdout[-2000:]}")
    journal = max((folder / ".operator" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return measure(journal, folder, cloud.parse_pace(pace_name))


def run_apart(folder: Path, pace_name: str) -> Measured:
    """The same procedure, its host in a process of its own, `runbook run` against it."""
    if folder.exists():
        raise SystemExit(f"{folder} exists: give a folder that does not")
    env = {**os.environ, cloud.PACE_ENV: pace_name}
    # What the host logs goes beside its sandbox, not over the figures.
    log = (folder.parent / f"{folder.name}-host.log").open("w")
    host = subprocess.Popen([sys.executable, "-m", "runbook.rehearsal.host", "--sandbox",
                             str(folder)], env=env, stdout=subprocess.PIPE, stderr=log,
                            text=True, start_new_session=True)
    try:
        assert host.stdout is not None
        # The host prints its settings once it serves: a few seconds (minutes
        # with MariaDB to set up); the run's limit is the whole rehearsal's.
        ready, _, _ = select.select([host.stdout], [], [], 300)
        started = json.loads(host.stdout.readline() or "{}") if ready else {}
        if not started:
            raise SystemExit(f"the rehearsal host did not start (see {log.name})")
        config = filled(rehearsal_config_text(),
                        rehearsal_values({k: v for k, v in started.items() if isinstance(v, str)}))
        # Driven as a production host is: `runbook run` takes no rehearsal's config.
        marked = "[rehearsal]\nenabled = true\n"
        assert marked in config, "the rehearsal config's table moved"
        config = config.replace(marked, "")
        path = folder / ".operator" / "apart.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        # The token the host made, from its own state file (never printed).
        state = json.loads((folder / ".rehearsal" / "state.json").read_text())
        journal = folder / ".operator" / "apart.jsonl"
        done = subprocess.run([sys.executable, "-m", "runbook.cli", "run", str(path),
                               "--headless", "--yes", "--journal", str(journal)],
                              env={**env, "SM_API_TOKEN": state["api_token"],
                                   "XDG_STATE_HOME": str(folder / ".operator")},
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"the run failed ({done.returncode}):\n{done.stdout[-2000:]}")
    finally:
        host.send_signal(signal.SIGTERM)
        try:
            host.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # Never left running over a sandbox about to be removed: the host
            # and what it started (the service) share its session's group.
            os.killpg(host.pid, signal.SIGKILL)
            host.wait()
        log.close()
    return measure(journal, folder, cloud.parse_pace(pace_name))


def main(runs: int, keep: Path | None, apart: bool) -> None:
    once = run_apart if apart else rehearse
    with tempfile.TemporaryDirectory(prefix="runbook-bench-cutover-") as scratch:
        root = keep or Path(scratch)
        # Made here: the host-apart run writes its host's log beside the sandbox.
        root.mkdir(parents=True, exist_ok=True)
        results = [once(root / f"run{n}", "fast") for n in range(runs)]
    print("host: " + ("a process of its own, `runbook run` against it" if apart
                      else "in the runbook's process (`runbook rehearse`)"))
    for n, m in enumerate(results, 1):
        print(f"run {n}: downtime {m.downtime:5.2f} s = cloud teardown {m.teardown:.2f} + "
              f"origin boot {m.boot:.2f} + service start {m.service:.2f} + runbook "
              f"{m.overhead:.2f}")
    overheads = [m.overhead for m in results]
    middle = sorted(results, key=lambda m: m.overhead)[len(results) // 2]
    print("steps of the median run (ms, each from the step before it ended): " +
          ", ".join(f"{step} {1000 * took:.0f}" for step, took in middle.steps.items()))
    print(f"runbook's own time in the downtime: median {statistics.median(overheads):.2f} s "
          f"(min {min(overheads):.2f}, max {max(overheads):.2f}); goal: under 0.5 s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the sandboxes under this new folder")
    parser.add_argument("--host-apart", action="store_true",
                        help="run the rehearsal host in a process of its own")
    args = parser.parse_args()
    main(args.runs, args.keep, args.host_apart)
