"""start-service against a service that runs and never answers.

The new service was started by an earlier attempt while its database could
not be reached (a crash took the rehearsal's databases with it): its webapp
failed to deploy and it stays up, silent. The old runbook waited the whole
limit and failed on every resume; now the plan the operator confirmed
includes one restart when the service runs and does not answer in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from runbook.executor import Answer, Decision, Outcome
from runbook.journal import replay
from runbook.model import Shell
from runbook.rehearsal import cloud
from tests.rehearsal import rehearsal_host, rehearsal_settings, rehearse, seeded_nodegroups
from tests.scripted import ScriptedFrontEnd


async def test_a_service_that_runs_without_answering_is_restarted_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        settings = rehearsal_settings(host)
        settings = dataclasses.replace(
            settings, timeouts=dataclasses.replace(settings.timeouts, service_start=8))
        first = ScriptedFrontEnd({"start-service": Decision(Answer.STOP)})
        assert await rehearse(host, first, journal, settings) is Outcome.STOPPED

        # Boot the new install while its database is unreachable.
        database = host._db.new
        address = database.address
        await database.close()
        status, output = await host._run_shim("systemctl", "start", "red5pro")
        assert status == 0, output
        log = host.install_dir / "red5pro" / "log" / "red5.log"
        for _ in range(100):
            if "webapp is unavailable" in log.read_text():
                break
            await asyncio.sleep(0.05)
        assert "webapp is unavailable" in log.read_text()
        await database.start(*address)

        second = ScriptedFrontEnd()
        outcome = await rehearse(host, second, journal, settings, resume=replay(journal))
        assert outcome is Outcome.DONE, second.text()[-3000:]
        assert len(cloud.list_nodegroups(host.sandbox, *host.new_db)) == seeded_nodegroups()
    plan = [a.command for a in second.plans["start-service"] if isinstance(a, Shell)]
    assert plan[-1].endswith("systemctl restart red5pro"), "the restart was in the plan"
    assert "restarting it once" in second.text()
