"""The launch function as Lambda lays it out: its zip in a task root, the dependencies layer in
/opt, `run.sh` started with the function's environment; the app must answer.

Built for this machine's Python and architecture (Lambda's are 3.12 on arm64, which cannot
run here), from the same lock and by the same code as the deployed package.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from infra import packaging
from infra.api import ADAPTER_ENVIRONMENT
from skybinder.adapters.aws import names
from tests.requires import requires_that

ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
# What the deployment sets, with placeholder resources (nothing is called at start-up).
ENVIRONMENT = {
    names.ENV_TABLE_NAME: "sb-test-table",
    names.ENV_CLUSTER: "sb-test-cluster",
    names.ENV_BUILD_PROJECT: "sb-test-builder",
    names.ENV_BUILD_LOG_GROUP: "sb-test-builder-logs",
    names.ENV_BUILD_LOG_STREAM_PREFIX: "repo2docker",
    names.ENV_IMAGE_REPOSITORY: "123456789012.dkr.ecr.us-east-1.amazonaws.com/sb-test-images",
    names.ENV_SESSION_TASK_DEFINITION: "sb-test-session",
    names.ENV_TASK_FAMILY_PREFIX: "sb-test-session-",
    names.ENV_SUBNETS: "subnet-1,subnet-2",
    names.ENV_SECURITY_GROUPS: "sg-1",
    names.ENV_PUBLIC_URL: "https://binder.example.org",
    names.ENV_ORIGIN_SECRET: "from-cloudfront",  # in the settings parameter when deployed
    "AWS_REGION": "us-east-1",  # Lambda sets both
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            path = Path(opened.extract(info, target))
            path.chmod((info.external_attr >> 16) & 0o777)  # zipfile drops the modes


def _base_python(bin_dir: Path) -> None:
    """`python` on PATH: this interpreter without the test environment's packages."""
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(Path(sys._base_executable).resolve())  # type: ignore[attr-defined]


def test_run_sh_serves_the_app_from_the_zip_and_the_layer(tmp_path: Path) -> None:
    requires_that(ARCH is not None, "a Lambda architecture", f"{platform.machine()} is not one")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer = packaging.dependencies_layer(str(ARCH), python=python)
    code = packaging.function_archive("launch", cache=tmp_path / "cache")
    task, opt, bin_dir = tmp_path / "task", tmp_path / "opt", tmp_path / "bin"
    _unzip(code.path, task)
    _unzip(layer.path, opt)
    _base_python(bin_dir)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONNOUSERSITE": "1",
        **ENVIRONMENT,
        **{k: v.replace("/opt", str(opt)) for k, v in ADAPTER_ENVIRONMENT.items()},
        "PORT": str(_free_port()),
    }
    bare = subprocess.run(
        ["python", "-c", "import fastapi"],
        env={**env, "PYTHONPATH": ""},
        capture_output=True,
        check=False,
    )
    assert bare.returncode != 0, "the bare interpreter must not have fastapi of its own"
    server = subprocess.Popen(
        ["./run.sh"], cwd=task, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{env['PORT']}/versions"
        answer = _wait_for(url, server, {names.ORIGIN_SECRET_HEADER: "from-cloudfront"})
        assert answer.status_code == 200
        assert "skybinder" in answer.json()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "Traceback" not in output, output


def _wait_for(url: str, server: subprocess.Popen[str], headers: dict[str, str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            pytest.fail(f"run.sh exited with {server.returncode}:\n{output}")
        try:
            return httpx.get(url, timeout=2, headers=headers)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered on {url} within 30 s")


def test_the_tracing_layer_has_what_the_tracer_imports(tmp_path: Path) -> None:
    """`tracing: true` builds the layer with the `tracing` extra: powertools' Tracer then
    finds the X-Ray SDK and records, instead of the stand-in that records nothing."""
    requires_that(ARCH is not None, "a Lambda architecture", f"{platform.machine()} is not one")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    plain = packaging.locked_requirements()
    traced = packaging.locked_requirements(tracing=True)
    assert "aws-xray-sdk==" not in plain and "aws-xray-sdk==" in traced
    layer = packaging.dependencies_layer(str(ARCH), python=python, tracing=True)
    opt, bin_dir = tmp_path / "opt", tmp_path / "bin"
    _unzip(layer.path, opt)
    _base_python(bin_dir)
    code = (
        "from skybinder.adapters.aws import telemetry\n"
        "tracer = telemetry.tracer('check')\n"
        "assert tracer._is_xray_provider(), type(tracer.provider)\n"
        "print('traced')\n"
    )
    checked = subprocess.run(
        ["python", "-c", code],
        env={
            "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
            "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": f"{opt / 'python'}{os.pathsep}{Path(__file__).resolve().parents[2]}",
            "AWS_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "traced"
