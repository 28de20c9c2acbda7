"""The documented upgrade procedure, in order, as runbook steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steps.facts import Red5Step


def procedure() -> list[Red5Step]:
    # Imported here so `import steps` stays cheap for tools that only list ids.
    from steps.cutover import (
        BackupLive,
        DeleteNodegroups,
        PromoteNew,
        Recreate,
        ServiceUnit,
        StopService,
    )
    from steps.prepare import (
        CarryOver,
        CloudController,
        ExportConfig,
        NewDatabase,
        Preflight,
        Schema,
        StripAutoscale,
        Unpack,
        UploadArtifacts,
    )
    from steps.properties_step import Properties
    from steps.start_service import StartService

    return [
        Preflight(), NewDatabase(), ExportConfig(), UploadArtifacts(), Unpack(),
        CloudController(), StripAutoscale(), CarryOver(), Properties(), Schema(),
        DeleteNodegroups(), BackupLive(), PromoteNew(), StopService(), ServiceUnit(),
        StartService(), Recreate(),
    ]


def way_back() -> list[Red5Step]:
    """The rollback steps, in order (steps/rollback.py)."""
    from steps.rollback import way_back as steps

    return steps()
