"""Runs the Pulumi program under mocks, as `pulumi up` would, and writes what it declared.

python -m tests.infra.program CONFIG_JSON OUT_JSON [STACK]

CONFIG_JSON holds config keys without the project prefix (`network`), or with another
namespace (`aws:profile`). tests/infra/render.py runs it and caches what it wrote.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.infra.mocks import AwsMocks, RecordingMonitor

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "skybinder"
ORGANIZATION = "skybinder-tests"


def run(config: dict[str, object], stack: str = "dev") -> dict[str, object]:
    mocks = AwsMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT,
        stack=stack,
        preview=False,
        monitor=monitor,
        organization=ORGANIZATION,
    )
    pulumi.runtime.set_all_config(
        {
            (key if ":" in key else f"{PROJECT}:{key}"): v if isinstance(v, str) else json.dumps(v)
            for key, v in config.items()
        }
    )
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "infra"), run_name="__main__")))
    registered = monitor.get_registered_resources()
    exports = pulumi.runtime.settings.get_root_resource().outputs  # type: ignore[union-attr]
    outputs = {
        key: _sync_await(pulumi.Output.from_input(value).future()) for key, value in exports.items()
    }
    resources = []
    for entry in mocks.resources:
        urn = next(
            u
            for u in registered
            if u.endswith(f"::{entry['name']}") and u.split("::")[2].split("$")[-1] == entry["type"]
        )
        resources.append(
            {
                **entry,
                "urn": urn,
                "parent": monitor.parents.get(urn, ""),
                "dependencies": monitor.dependencies.get(urn, []),
            }
        )
    return {"resources": resources, "outputs": outputs}


if __name__ == "__main__":
    stack_name = sys.argv[3] if len(sys.argv) > 3 else "dev"
    result = run(json.loads(sys.argv[1]), stack_name)
    Path(sys.argv[2]).write_text(json.dumps(result, default=str), encoding="utf-8")
