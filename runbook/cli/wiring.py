"""Where the engine and the procedure meet: a session of the documented
procedure for a host's settings; the embedded rehearsal config, filled in for
a sandbox, or as `runbook plan` shows it without one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.rehearsal import OPERATOR_DIRNAME

if TYPE_CHECKING:
    from runbook.config import Settings
    from runbook.journal_replay import Replay
    from runbook.rehearsal.host import RehearsalHost
    from runbook.session import Session
    from runbook.step import Procedure
    from steps.facts import Red5Facts


def _sample(name: str) -> str:
    from importlib import resources

    return (resources.files("runbook.sample_configs") / name).read_text("utf-8")


def rehearsal_config_text() -> str:
    return _sample("rehearsal.toml")


def plan_settings(path: Path | None) -> Settings:
    from runbook import config as config_mod

    if path is not None:
        return config_mod.load(path)
    # The rehearsal config outside a rehearsal: show where things would go.
    values = {"sandbox": "/tmp/runbook-rehearsal", "ssh_port": "2222", "user": "red5admin",
              "api_base_url": "http://127.0.0.1:5080", "new_db_host": "127.0.0.3",
              "new_db_port": "3306"}
    return config_mod.loads(rehearsal_config_text(), source="rehearsal.toml",
                            substitutions=rehearsal_values(values))


def rehearsal_values(values: dict[str, str]) -> dict[str, str]:
    """The rehearsal config's fields for a sandbox: where its files go, then
    `values` (the host's own: its sandbox, port, API address...) over them."""
    from importlib import resources

    from runbook.rehearsal import scenarios

    default = scenarios.scenario(scenarios.DEFAULT)
    sandbox = values["sandbox"]
    defaults = {
        "known_hosts": f"{sandbox}/.rehearsal/known_hosts",
        "client_key": f"{sandbox}/.rehearsal/id_ed25519",
        "install_dir": f"{sandbox}/usr/local",
        "upload_dir": f"{sandbox}/tmp/runbook-upload",
        "unit_file": f"{sandbox}/lib/systemd/system/red5pro.service",
        "distribution": f"{sandbox}/{OPERATOR_DIRNAME}/{default.zip_name}",
        "cloud_controller": f"{sandbox}/{OPERATOR_DIRNAME}/{default.controller_jar}",
        "decisions": str(resources.files("runbook.sample_configs") / "rehearsal-decisions.toml"),
    }
    return {**defaults, **values}


def session(
    settings: Settings,
    *,
    token: str,
    journal_path: Path,
    state_dir: Path,
    isolated: bool = False,
    resume: Replay | None = None,
    rollback_after: str | None = None,
    only_back: bool = False,
) -> Session[Any]:
    """A run of the documented procedure against the host in `settings`: the
    one place the engine and the procedure meet. `only_back`: the way back
    alone (runbook rollback). Its steps load when it first needs them, after
    a front end has drawn their cards (steps.cards; issue 12)."""
    from runbook.session import Session
    from steps.cards import UPGRADE, WAY_BACK

    def load() -> Procedure[Red5Facts]:
        from runbook.step import Procedure
        from steps import procedure, way_back
        from steps.facts import Red5Facts

        upgrade = procedure()
        # The way back alone runs none of the upgrade's steps, but says what they
        # leave as it learns it (review 56c, F2).
        return Procedure([] if only_back else upgrade, Red5Facts(), rollback=way_back(),
                         upgrade=upgrade if only_back else None)

    return Session.deferred(settings, WAY_BACK if only_back else [*UPGRADE, *WAY_BACK], load,
                            token=token, journal_path=journal_path, state_dir=state_dir,
                            isolated=isolated, resume=resume, rollback_after=rollback_after)


def _decisions_of_the_path(host: RehearsalHost) -> str:
    """The sample decisions, less those for keys neither file of the host's
    upgrade path has: one sample serves every scenario, and a decision for a
    key the path lacks is said as stale (operator trial: a 5.1-to-6.2
    rehearsal began with that warning, of its own file). Reviewed as the
    properties step will: the path's live file (its keys; the values are the
    sandbox's own) against the new template, with the keys the new release's
    AWS bean reads. So an accept-new for such a key stays only where the live
    file does not set it (5.1's lacks aws.forUsGovRegions): over a live value
    it would take the template's commented line, which the review refuses."""
    import tomlkit

    from runbook.properties import Status, review
    from runbook.rehearsal import sandbox
    from steps import red5

    path = host.scenario
    live = sandbox.old_properties(path.old, sandbox.LiveSecrets.generate(), ("127.0.0.1", 3306))
    needs = red5.keys_the_new_bean_reads(sandbox.application_context(sandbox.AWS, path.old),
                                         sandbox.application_context(sandbox.DUMMY, path.new))
    known = review(live, sandbox.data_text(path.new.properties), needs=needs)
    decisions = tomlkit.parse(_sample("rehearsal-decisions.toml"))
    keys = decisions["keys"]
    assert isinstance(keys, dict)
    for key in [key for key in keys if key not in known]:
        del keys[key]
    for key in [key for key, table in keys.items()
                if key in needs and table.get("action") == "accept-new"
                and known[key].status not in (Status.NEW_DEFAULT, Status.NEEDS_VALUE)]:
        del keys[key]
    return tomlkit.dumps(decisions)


def rehearsal_settings(host: RehearsalHost, **values: str) -> Settings:
    """The embedded rehearsal config filled in for a running rehearsal host."""
    from dataclasses import replace

    from runbook import config as config_mod
    from runbook.rehearsal import sandbox
    from runbook.rehearsal.sandbox import write_private

    # The rehearsal's decisions are the operator's to edit in the editor: a
    # copy in the sandbox, never the file shipped inside the package.
    decisions = host.sandbox / OPERATOR_DIRNAME / "decisions.toml"
    if not decisions.exists():
        write_private(decisions, _decisions_of_the_path(host))
    filled = {**rehearsal_values(host.config_values()), "decisions": str(decisions), **values}
    settings = config_mod.loads(rehearsal_config_text(), source="rehearsal.toml",
                                substitutions=filled)
    # The journal records it: a fast rehearsal's cutover time is no estimate
    # for a real one.
    return replace(settings, rehearsal_pace=host.pace, rehearsal_scenario=host.scenario.name,
                   rehearsal_stand_ins=host.scenario.new.stand_in,
                   cgroup_root=str(sandbox.cgroup_root(host.sandbox)))
