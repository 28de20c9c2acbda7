"""Cutover: the stream manager is down from the first of these steps to the last."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from runbook.model import Action, ApiCall, Check, Note, Phase, Shell, Wait
from runbook.remote import quote
from runbook.smapi import SMApiError
from runbook.step import PlanContext, Step, StepContext, StepFailed
from steps import red5
from steps.common import (
    exists,
    find_server_folders,
    install_version,
    load_snapshot,
    new_dir,
    red5_pids,
    root,
    run_shell,
    server_folders,
)

# Often enough that a waiting operator sees progress promptly, rarely enough
# to be nothing to the stream manager.
_POLL_S = 0.5


async def _wait(ctx: StepContext, what: str, timeout: float, probe: Any) -> Any:
    """Poll `probe` until it returns something truthy, with a visible countdown."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            raise StepFailed(f"gave up after {timeout:g}s waiting for {what}")
        ctx.progress(timeout - left, timeout, f"waiting for {what}: {left:.0f}s left")
        await asyncio.sleep(min(_POLL_S, left))


class DeleteNodegroups(Step):
    id = "delete-nodegroups"
    title = "Delete the nodegroups"
    phase = Phase.CUTOVER
    destructive = True
    summary = (
        "Deletes every nodegroup through the live API and waits until they are gone; "
        "their nodes are terminated. They are rebuilt from the snapshot after the upgrade."
    )
    caution = (
        "Skipping this does not keep the nodes: the upgraded stream manager finds nodes its "
        "new database does not know and tears them down itself, without an orderly drain."
    )

    def plan(self, p: PlanContext) -> list[Action]:
        snapshot = load_snapshot(p)
        names = [g["name"] for g in snapshot["nodegroups"]] if snapshot else ["{each nodegroup}"]
        actions: list[Action] = [
            ApiCall("DELETE", f"admin/nodegroup/{name}",
                    p.curl("DELETE", f"admin/nodegroup/{name}")) for name in names]
        actions.append(Wait("GET admin/nodegroup lists none",
                            p.settings.timeouts.nodegroups_gone))
        return actions

    async def check(self, ctx: StepContext) -> Check:
        snapshot = load_snapshot(ctx)
        if snapshot is None:
            raise StepFailed("refusing to delete nodegroups: export-config has saved no "
                             "snapshot to rebuild them from")
        api = await ctx.api()
        live = {g["name"] for g in await api.list_nodegroups()}
        saved = {g["name"] for g in snapshot["nodegroups"]}
        if live - saved:
            raise StepFailed(
                f"nodegroups {', '.join(sorted(live - saved))} were created after the snapshot; "
                f"deleting them would lose them. Remove {ctx.facts.get('snapshot')} and run "
                "again (without --resume) to export them first")
        if not live:
            return Check(True, "the live stream manager has no nodegroups")
        return Check(False, f"{len(live)} nodegroup(s) exist")

    async def run(self, ctx: StepContext) -> None:
        api = await ctx.api()
        snapshot = load_snapshot(ctx) or {"nodegroups": []}
        live = {g["name"] for g in await api.list_nodegroups()}
        # Only what the snapshot can rebuild is deleted.
        for name in [g["name"] for g in snapshot["nodegroups"] if g["name"] in live]:
            await ctx.act(ApiCall("DELETE", f"admin/nodegroup/{name}",
                                  api.curl("DELETE", f"admin/nodegroup/{name}")),
                          lambda name=name: api.delete_nodegroup(name))

        async def gone() -> bool:
            return not await api.list_nodegroups()

        await _wait(ctx, "the nodegroups to be gone", ctx.settings.timeouts.nodegroups_gone, gone)
        ctx.note("nodegroups-deleted", "every nodegroup is deleted on the live database")


class BackupLive(Step):
    id = "backup-live"
    title = "Rename red5pro to bak.red5pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = "Moves the live install aside as bak.red5pro; it is the way back if needed."

    def plan(self, p: PlanContext) -> list[Action]:
        s = p.settings
        return [Shell(root(p, f"mv -T -- {quote(s.live_dir)} {quote(s.backup_dir)}"))]

    async def check(self, ctx: StepContext) -> Check:
        s = ctx.settings
        if await exists(ctx, s.backup_dir, "-d"):
            version = await install_version(ctx, s.backup_dir)
            if version is not None and version == ctx.facts.get("live_version"):
                return Check(True, f"{s.backup_dir} holds the old {version}")
            raise StepFailed(f"{s.backup_dir} already exists and holds {version or 'something'} "
                             "(an earlier backup?); move it elsewhere first")
        return Check(False)

    async def run(self, ctx: StepContext) -> None:
        if not await exists(ctx, ctx.settings.live_dir, "-d"):
            raise StepFailed(f"{ctx.settings.live_dir} is not there to move")
        await run_shell(ctx, self.plan(ctx.plan_context()))


class PromoteNew(Step):
    id = "promote-new"
    title = "Rename the new tree to red5pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = "Moves the unpacked red5pro-server-* folder into place as red5pro."

    def plan(self, p: PlanContext) -> list[Action]:
        s = p.settings
        return [Shell(find_server_folders(p), "exactly the unpacked folder, or stop"),
                Shell(root(p, f"mv -T -- {quote(new_dir(p))} {quote(s.live_dir)}"))]

    async def check(self, ctx: StepContext) -> Check:
        s = ctx.settings
        if await exists(ctx, s.live_dir, "-d"):
            version = await install_version(ctx, s.live_dir)
            if version is not None and version == ctx.facts.get("new_version"):
                return Check(True, f"{s.live_dir} is {version}")
            raise StepFailed(f"{s.live_dir} exists and holds {version or 'an unknown version'}; "
                             "backup-live has not moved it aside")
        matches = await server_folders(ctx)
        if matches != [new_dir(ctx)]:
            listed = ", ".join(matches) or "none"
            raise StepFailed(f"expected exactly one red5pro-server-* folder in {s.install_dir}, "
                             f"the unpacked {new_dir(ctx)}; found {listed}")
        return Check(False)

    async def run(self, ctx: StepContext) -> None:
        await run_shell(ctx, self.plan(ctx.plan_context())[1:])


class StopService(Step):
    id = "stop-service"
    title = "Kill the running Red5 Pro"
    phase = Phase.CUTOVER
    destructive = True
    summary = (
        "Finds the running Red5 Pro java process(es) (the old server still runs from the "
        "renamed folder) and kills them with kill -9, as the procedure does."
    )
    caution = "Under jsvc there are two processes; both go."

    def plan(self, p: PlanContext) -> list[Action]:
        pids = p.facts.get("red5_pids") or ["<PID>"]
        return [Shell("ps -eo pid=,args=", "java processes of this install"),
                Shell(root(p, "kill -9 " + " ".join(str(pid) for pid in pids)))]

    async def check(self, ctx: StepContext) -> Check:
        pids = await red5_pids(ctx)
        ctx.facts["red5_pids"] = pids
        if not pids:
            return Check(True, "no Red5 Pro java process runs")
        return Check(False, f"running: {', '.join(map(str, pids))}")

    async def run(self, ctx: StepContext) -> None:
        # Only processes the operator saw in the plan, and that still run now:
        # a PID freed in the meantime may belong to something else.
        shown = set(ctx.facts.get("red5_pids") or [])
        pids = sorted(shown & set(await red5_pids(ctx)))
        if not pids:
            ctx.info("the processes shown in the plan have already exited")
            return
        result = await ctx.sh(root(ctx, "kill -9 " + " ".join(map(str, pids))), check=False)
        if not result.ok and set(pids) & set(await red5_pids(ctx)):
            raise StepFailed(f"kill failed: {result.last_error_line()}")

    async def verify(self, ctx: StepContext) -> Check:
        async def none_left() -> bool:
            return not await red5_pids(ctx)

        await _wait(ctx, "the java processes to exit", ctx.settings.timeouts.service_stop,
                    none_left)
        return Check(True, "no Red5 Pro java process remains")


class StartService(Step):
    id = "start-service"
    title = "Start the red5pro service"
    phase = Phase.CUTOVER
    summary = (
        "Starts the service with systemctl and waits until the Stream Manager API answers "
        "from the new install."
    )

    def plan(self, p: PlanContext) -> list[Action]:
        return [Shell(root(p, "systemctl start red5pro")),
                ApiCall("GET", "admin/debug/cloudcontroller",
                        p.curl("GET", "admin/debug/cloudcontroller"), "until it answers"),
                Wait("the API to answer", p.settings.timeouts.service_start)]

    async def _old_server(self, ctx: StepContext) -> list[int]:
        """PIDs of the server preflight saw that are still running."""
        return sorted(set(ctx.facts.get("live_pids") or []) & set(await red5_pids(ctx)))

    async def _answering(self, ctx: StepContext, errors: list[str]) -> Any:
        try:
            api = await ctx.api(fresh=True)
            return await api.cloud_controller() and api
        except SMApiError as exc:
            if exc.status == 401:
                raise StepFailed(f"the new stream manager refuses the API token: {exc} (the "
                                 "merged rest.administratorToken should be the live one)") from None
            errors.append(str(exc))  # not up yet: keep waiting, remember why
            return None

    async def check(self, ctx: StepContext) -> Check:
        if await self._old_server(ctx):
            return Check(False, "the old server still runs")
        active = await ctx.probe("systemctl is-active red5pro")
        version = await install_version(ctx, ctx.settings.live_dir)
        new = ctx.facts.get("new_version")
        if active.ok and version is not None and version == new and await self._answering(ctx, []):
            return Check(True, f"the service runs {version} and the API answers")
        return Check(False)

    async def run(self, ctx: StepContext) -> None:
        old = await self._old_server(ctx)
        if old:
            raise StepFailed(f"the old server (pid {', '.join(map(str, old))}) still runs and "
                             "answers on the same port; run stop-service first")
        await ctx.sh(root(ctx, "systemctl start red5pro"))
        errors: list[str] = []
        try:
            api = await _wait(ctx, "the Stream Manager API", ctx.settings.timeouts.service_start,
                              lambda: self._answering(ctx, errors))
        except StepFailed as exc:
            last = errors[-1] if errors else "no answer at all"
            log = f"{ctx.settings.live_dir}/{red5.SERVICE_LOG}"
            raise StepFailed(f"{exc} (last answer: {last}); see {log}") from None
        controller = await api.cloud_controller()
        version = await install_version(ctx, ctx.settings.live_dir)
        ctx.facts["new_api_version"] = api.version
        ctx.note("service-answered",
                 f"the stream manager answers from the new install {ctx.settings.live_dir} "
                 f"({version}): API {api.version}, cloud controller {controller}",
                 install_version=version, api_version=api.version, controller=controller)
        if controller and "dummy" in controller.lower():
            raise StepFailed("the new stream manager runs the dummy cloud controller; "
                             "carry-over did not activate the live controller")
        await self._report_teardown(ctx)

    async def _report_teardown(self, ctx: StepContext) -> None:
        """When the nodegroups were not deleted, say plainly what happens to their nodes."""
        snapshot = load_snapshot(ctx) or {}
        nodes = [n["identifier"] for g in snapshot.get("nodegroups", [])
                 for n in g.get("nodes", []) if n.get("identifier")]
        if not nodes or ctx.facts.get("skipped", {}).get("delete-nodegroups") is None:
            return
        log = f"{ctx.settings.live_dir}/{red5.SERVICE_LOG}"
        patterns = " ".join(f"-e {quote(n)}" for n in nodes)
        seen = await ctx.probe(f"grep -F {patterns} -- {quote(log)}")
        lines = [line for line in seen.stdout.splitlines() if line.strip()]
        ctx.note("old-nodes-torn-down",
                 f"delete-nodegroups was skipped: the new stream manager does not know the "
                 f"{len(nodes)} old node(s) ({', '.join(nodes)}) and tears them down itself. "
                 f"Its log says:\n" + ("\n".join(lines) or "(nothing yet)"),
                 nodes=nodes, log_lines=lines)

    async def verify(self, ctx: StepContext) -> Check:
        version = await install_version(ctx, ctx.settings.live_dir)
        if version is None or version != ctx.facts.get("new_version"):
            return Check(False, f"{ctx.settings.live_dir} is {version}, not the new release")
        if await self._old_server(ctx) or not await red5_pids(ctx):
            return Check(False, "the process answering is not a new server")
        return Check(True, f"API {ctx.facts.get('new_api_version')} answers from {version}")


def _same_group(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return (sorted(old.get("regions", [])) == sorted(new.get("regions", []))
            and old.get("launchConfig") == new.get("launchConfig")
            and old.get("scalePolicy") == new.get("scalePolicy"))


def _origins(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n.get("role") == "origin"]


class Recreate(Step):
    id = "recreate"
    title = "Recreate nodegroups and origins"
    phase = Phase.CUTOVER
    summary = (
        "Rebuilds, through the new API, the launch configs, scale policies and nodegroups "
        "saved by export-config, launches as many origins per nodegroup as before, and "
        "waits until they are in service."
    )

    def plan(self, p: PlanContext) -> list[Action]:
        snapshot = load_snapshot(p)
        actions: list[Action] = []
        if snapshot is None:
            return [Note("rebuilds what export-config saved (no snapshot yet)"),
                    ApiCall("POST", "admin/configurations/launchconfig",
                            p.curl("POST", "admin/configurations/launchconfig",
                                   {"launchconfig": "{saved}"})),
                    ApiCall("POST", "admin/configurations/scalepolicy",
                            p.curl("POST", "admin/configurations/scalepolicy",
                                   {"policy": "{saved}"})),
                    ApiCall("POST", "admin/nodegroup", p.curl("POST", "admin/nodegroup", {
                        "regions": ["{saved}"], "launchConfig": "{saved}",
                        "scalePolicy": "{saved}"})),
                    ApiCall("POST", "admin/nodegroup/{new}/node/origin",
                            p.curl("POST", "admin/nodegroup/{new}/node/origin")),
                    Wait("origins in service", p.settings.timeouts.origins_inservice)]
        for name, body in snapshot["launchconfigs"].items():
            actions.append(ApiCall("POST", "admin/configurations/launchconfig", p.curl(
                "POST", "admin/configurations/launchconfig", {"launchconfig": body}), name))
        for name, body in snapshot["scalepolicies"].items():
            actions.append(ApiCall("POST", "admin/configurations/scalepolicy", p.curl(
                "POST", "admin/configurations/scalepolicy", {"policy": body}), name))
        for group in snapshot["nodegroups"]:
            actions.append(ApiCall("POST", "admin/nodegroup", p.curl("POST", "admin/nodegroup", {
                "regions": group.get("regions", []), "launchConfig": group.get("launchConfig"),
                "scalePolicy": group.get("scalePolicy")}), f"replaces {group['name']}"))
            for _ in range(max(1, len(_origins(group.get("nodes", []))))):
                actions.append(ApiCall("POST", "admin/nodegroup/{new}/node/origin",
                                       p.curl("POST", "admin/nodegroup/{new}/node/origin")))
        actions.append(Wait("origins in service", p.settings.timeouts.origins_inservice))
        return actions

    def _snapshot(self, ctx: StepContext) -> dict[str, Any]:
        snapshot = load_snapshot(ctx)
        if snapshot is None:
            raise StepFailed("there is no snapshot from export-config to rebuild from")
        return snapshot

    async def _matches(self, ctx: StepContext, api: Any) -> dict[str, dict[str, Any]]:
        """Old nodegroup name -> the new nodegroup that stands for it."""
        current = await api.list_nodegroups()
        taken: set[str] = set()
        found: dict[str, dict[str, Any]] = {}
        for old in self._snapshot(ctx)["nodegroups"]:
            for new in current:
                if new["name"] not in taken and _same_group(old, new):
                    taken.add(new["name"])
                    found[old["name"]] = new
                    break
        return found

    async def _in_service(self, ctx: StepContext, api: Any) -> bool:
        matches = await self._matches(ctx, api)
        snapshot = self._snapshot(ctx)
        if len(matches) < len(snapshot["nodegroups"]):
            return False
        for old in snapshot["nodegroups"]:
            want = max(1, len(_origins(old.get("nodes", []))))
            origins = _origins(await api.list_nodes(matches[old["name"]]["name"]))
            if sum(1 for n in origins if n.get("state") == "inservice") < want:
                return False
        return True

    async def check(self, ctx: StepContext) -> Check:
        api = await ctx.api(fresh=True)
        if await self._in_service(ctx, api):
            return Check(True, "every saved nodegroup has its origins in service")
        return Check(False)

    async def run(self, ctx: StepContext) -> None:
        snapshot = self._snapshot(ctx)
        api = await ctx.api(fresh=True)
        if snapshot.get("api_version") != api.version:
            ctx.info(f"the snapshot came from API {snapshot.get('api_version')}; rebuilding "
                     f"through API {api.version}")
        have = set(await api.list_launchconfigs())
        for name, body in snapshot["launchconfigs"].items():
            if name in have:
                ctx.info(f"launch config {name} already exists")
                continue
            await ctx.act(ApiCall("POST", "admin/configurations/launchconfig", api.curl(
                "POST", "admin/configurations/launchconfig", {"launchconfig": body})),
                lambda body=body: api.create_launchconfig(body))
        have = set(await api.list_scalepolicies())
        for name, body in snapshot["scalepolicies"].items():
            if name in have:
                ctx.info(f"scale policy {name} already exists")
                continue
            await ctx.act(ApiCall("POST", "admin/configurations/scalepolicy", api.curl(
                "POST", "admin/configurations/scalepolicy", {"policy": body})),
                lambda body=body: api.create_scalepolicy(body))

        matches = await self._matches(ctx, api)
        for old in snapshot["nodegroups"]:
            group = matches.get(old["name"])
            if group is None:
                body = {"regions": old.get("regions", []), "launchConfig": old["launchConfig"],
                        "scalePolicy": old["scalePolicy"]}
                group = await ctx.act(
                    ApiCall("POST", "admin/nodegroup", api.curl("POST", "admin/nodegroup", body)),
                    lambda old=old: api.create_nodegroup(old.get("regions", []),
                                                         old["launchConfig"], old["scalePolicy"]))
            new_name = group["name"]
            want = max(1, len(_origins(old.get("nodes", []))))
            have_origins = len(_origins(await api.list_nodes(new_name)))
            for _ in range(want - have_origins):
                path = f"admin/nodegroup/{new_name}/node/origin"
                await ctx.act(ApiCall("POST", path, api.curl("POST", path)),
                              lambda new_name=new_name: api.launch_origin(new_name))
            ctx.note("nodegroup-recreated",
                     f"{old['name']} -> {new_name}: regions {', '.join(old.get('regions', []))}, "
                     f"launch config {old['launchConfig']}, scale policy {old['scalePolicy']}, "
                     f"{want} origin(s) launched",
                     old=old["name"], new=new_name, regions=old.get("regions", []),
                     launch_config=old["launchConfig"], scale_policy=old["scalePolicy"],
                     origins=want)

        await _wait(ctx, "the origins to be in service", ctx.settings.timeouts.origins_inservice,
                    lambda: self._in_service(ctx, api))
        ctx.note("origins-in-service", "every recreated nodegroup has its origins in service")
