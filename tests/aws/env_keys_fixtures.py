"""A deployment on moto that shares images by environment key, resolving GitHub specs through
the real providers on recorded GitHub answers (commits, trees, raw files)."""

from __future__ import annotations

from typing import Any

from skybinder.adapters.aws import names as n
from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from tests.aws.compute_fixtures import Cloud, deploy, make_cloud, stream
from tests.provider_fakes import FakeDns
from tests.recorded_trees import RecordedGitHub

BUILDER_VERSION = "recipe-1"
REQS = "numpy==2.1\n"
TEMPLATE_FILES = {"requirements.txt": REQS, "lesson.ipynb": "{}", "README.md": "# lesson"}
# The template's history and a student's fork of it.
A = "a1" * 20  # the first commit: it is built
B = "b2" * 20  # only a notebook changed
C = "c3" * 20  # the fork: other notebooks, the same environment
D = "d4" * 20  # requirements.txt changed
SPEC_A, SPEC_B, SPEC_D = (f"teacher/course/{sha}" for sha in (A, B, D))
SPEC_FORK = f"student/course/{C}"


def recorded_github() -> RecordedGitHub:
    github = RecordedGitHub()
    github.add("teacher", "course", A, TEMPLATE_FILES)
    github.add("teacher", "course", B, {**TEMPLATE_FILES, "lesson.ipynb": '{"cells": [1]}'})
    github.add("teacher", "course", D, {**TEMPLATE_FILES, "requirements.txt": "numpy==2.2\n"})
    github.add("student", "course", C, {"requirements.txt": REQS, "homework.ipynb": "{}"})
    return github


def shared_cloud(
    github: RecordedGitHub, hooks: list[tuple[str, Any]] | None = None, **settings: str
) -> Cloud:
    deployment = deploy(settings={n.ENV_BUILDER_VERSION: BUILDER_VERSION, **settings})
    resolver = ProviderResolver(github.client(), getaddrinfo=FakeDns(), environments=True)
    return make_cloud(deployment, resolver=CachingResolver(resolver), hooks=hooks)


def run_to_ready(cloud: Cloud, session_id: str) -> list[Any]:
    """Send the task's RUNNING event and take the stream to `ready`."""
    task = cloud.session(session_id).task_id
    cloud.send_reap(cloud.task_event("ecs-task-running", task))
    return stream(cloud.binder, session_id)
