"""Runs the Pulumi program under mocks once per configuration, in parallel subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
# The program as a user runs it with no settings, and with every non-default option.
SCENARIOS: dict[str, dict[str, object]] = {
    "default": {},
    "options": {
        "network": "private",
        "domain": {"name": "binder.example.org", "zone": "example.org"},
        "albCount": 2,
        "githubTokenSecret": "skybinder/github-token",
        "tracing": True,
        "alarmEmail": "ops@example.org",
        "containerInsights": True,
        "sociVersion": "0.11.1",
        "sociSha256": "0" * 64,
        "lambdaArchitecture": "x86_64",
        "sessionCpu": 2048,
        "sessionMemory": 8192,
        "capacity": "on-demand",
        "builderTimeout": 90,
        "bannedSpecs": ["^gh/evil/.*"],
    },
}


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Deployment]:
    out = tmp_path_factory.mktemp("deployments")
    running = {}
    for scenario, config in SCENARIOS.items():
        target = out / f"{scenario}.json"
        command = [sys.executable, "-m", "tests.infra.program", json.dumps(config), str(target)]
        running[scenario] = (
            subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=_environment(),
            ),
            target,
        )
    results = {}
    for scenario, (process, target) in running.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"the program failed with {scenario} config:\n{output}"
        results[scenario] = Deployment(json.loads(target.read_text(encoding="utf-8")))
    return results


@pytest.fixture(params=sorted(SCENARIOS))
def deployment(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Deployment:
    return deployments[request.param]


@pytest.fixture
def default(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["default"]


@pytest.fixture
def options(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["options"]


def _environment() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}
