"""The content-only scenario of bench/aws_calls.py: on a deployment that shares images by
environment key, commit A of a repository is built, then commit B, which changes only a
notebook, is launched. Counted on moto like the other scenarios, and timed on a model.

The simulated time of a launch adds up: each AWS call at a typical latency for its service,
each request to GitHub (the resolution reads the commit, its tree and requirements.txt), the
task's placement and image pull and Jupyter's start (the middles of bench/workshop_platform's
ranges), and the session launcher run for real here in bash against a local git server
holding a typical repository (the content-only launch fetches it; a cached launch finds its
commit in place), plus the network time of that fetch from a remote host.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.aws_calls import TO_READY, Calls, _launch
from skybinder.service.launch import request_launch
from tests.aws.conftest import mocked_aws
from tests.aws.env_keys_fixtures import SPEC_A, SPEC_B, B, recorded_github, shared_cloud
from tests.git_http import commit_files, git, git_http_server

# Modelled latencies (seconds).
CALL = {"dynamodb": 0.008, "ecr": 0.05, "ecs": 0.25, "elastic-load-balancing-v2": 0.12}
OTHER_CALL = 0.08
GITHUB_REQUEST = 0.15
PULL = 55.0  # RunTask to RUNNING: placement and the image pull
BOOT = 6.0  # RUNNING to Jupyter answering
FETCH_BANDWIDTH = 20e6  # bytes per second from GitHub to a Fargate task
FETCH_ROUND_TRIPS = 4  # TLS, ref negotiation, the pack
ROUND_TRIP = 0.08
LAUNCHER = Path(__file__).resolve().parent.parent / "images" / "session" / "skybinder-launch"


CALL_GOAL = 2  # AWS calls a content-only launch may make beyond a cached one
TIME_GOAL = 1.10  # its simulated time against a cached launch's
Report = Callable[[str, dict[str, Counter[str]]], tuple[int, int]]


def run(calls: Calls) -> tuple[dict[str, Counter[str]], int]:
    """AWS calls by step of the content-only launch, and its requests to GitHub."""
    github = recorded_github()
    with mocked_aws():
        cloud = shared_cloud(github, hooks=[("before-call.*.*", calls.hook)])
        first = request_launch(cloud.binder, "gh", SPEC_A)  # built, then launched
        cloud.push_image(first.image_name)
        cloud.send_build(cloud.build_event("codebuild-succeeded", cloud.build_id(first.image_name)))
        calls.by_step = {}
        cloud.clock.sleep(600)  # a later commit: the first one's build is history
        asked = len(github.requests)
        _launch(cloud, calls, cached=True, spec=SPEC_B)
        assert len(cloud.starts) == 1, "the content-only commit started a build"
        assert cloud.run_tasks[-1]["overrides"]["containerOverrides"][0]["command"][2] == B
        return calls.by_step, len(github.requests) - asked


def modelled_calls(by_step: dict[str, Counter[str]], steps: tuple[str, ...]) -> float:
    seconds = 0.0
    for step, counts in by_step.items():
        if step in steps:
            for name, n in counts.items():
                seconds += n * CALL.get(name.split(".", 1)[0], OTHER_CALL)
    return seconds


def launcher_seconds() -> tuple[float, float, int]:
    """The launcher's real run time here: fetching a typical repository's other commit into
    an image's home, and finding the image's own commit in place; and the bytes fetched."""
    scratch = Path(tempfile.mkdtemp(prefix="skybinder-bench-"))
    try:
        work, served = scratch / "work", scratch / "srv"
        served.mkdir()
        git("init", "-q", "-b", "main", work)
        notebooks = {f"lesson-{i:02}.ipynb": f'{{"cells": [{i}]}}\n' * 16000 for i in range(20)}
        first = commit_files(work, {"requirements.txt": "numpy\n", **notebooks})
        second = commit_files(work, {"lesson-00.ipynb": "{}"})
        git("clone", "-q", "--bare", work, served / "r.git")
        home = scratch / "home"
        git("clone", "-q", str(work), home)
        git("checkout", "-q", first, cwd=home)
        with git_http_server(served) as (url, _):
            fetch = _run(home, f"{url}/r.git", second)
            in_place = _run(home, f"{url}/r.git", second)
        size = sum(p.stat().st_size for p in work.rglob("*") if ".git" not in p.parts)
        return fetch, in_place, size
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(home: Path, url: str, commit: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["bash", str(LAUNCHER), url, commit, "--", "true"],
        cwd=home,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "SKYBINDER_GIT_PROTOCOLS": "http"},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def simulated(calls_seconds: float, github_requests: int, launcher: float) -> float:
    return calls_seconds + github_requests * GITHUB_REQUEST + PULL + BOOT + launcher


def network_seconds(size: int) -> float:
    """What the fetch adds over a real network: round trips and the transfer (a shallow fetch
    sends about the checkout's size, compressed: counted uncompressed, to be safe)."""
    return FETCH_ROUND_TRIPS * ROUND_TRIP + size / FETCH_BANDWIDTH


def main(cached: dict[str, Counter[str]], report: Report) -> None:
    """Count and time the content-only launch; print it in the scenarios' format, then its
    comparison with `cached` (the calls by step of the cached launch)."""
    by_step, requests = run(Calls())
    title = "content-only commit (only a notebook changed: the environment built for the "
    title += "first commit is reused, no build; the task fetches the new commit)"
    to_ready, _ = report(title, by_step)
    cached_ready = sum(sum(c.values()) for step, c in cached.items() if step in TO_READY)
    builds = sum(c["codebuild.StartBuild"] for c in by_step.values())
    fetch, in_place, size = launcher_seconds()
    t_cached = simulated(modelled_calls(cached, TO_READY), requests, in_place)
    t_content = simulated(
        modelled_calls(by_step, TO_READY), requests, fetch + network_seconds(size)
    )
    ratio = t_content / t_cached
    extra = to_ready - cached_ready
    print(
        f"\ncontent-only commit, request to ready: {to_ready} AWS calls, {builds} StartBuild, "
        f"{extra:+d} against a cached launch; goal no StartBuild and <= +{CALL_GOAL}: "
        f"{'met' if builds == 0 and extra <= CALL_GOAL else 'missed'}"
    )
    print(
        f"content-only commit, simulated request to ready: {t_content:.1f} s against "
        f"{t_cached:.1f} s for a cached launch ({ratio:.3f}x; the launcher fetched "
        f"{size / 1e6:.1f} MB in {fetch:.2f} s here, +{network_seconds(size):.2f} s of network "
        f"modelled); goal <= {TIME_GOAL:.2f}x: {'met' if ratio <= TIME_GOAL else 'missed'}"
    )
