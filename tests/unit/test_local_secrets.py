"""The local binder's secrets and what repository code may see: private files, the clean
environment, the origin sessions accept, and where `skybinder launch` sends the token."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from skybinder.adapters.local.clean_env import repository_environment, tool_environment
from skybinder.adapters.local.env_steps import uv_config_args
from skybinder.adapters.local.private_files import access_token, private_dir, store_key
from skybinder.bootstrap import served_names, session_origin
from skybinder.client import local_token
from skybinder.config import LocalSettings
from skybinder.domain.jupyter import JupyterOptions, jupyter_args

SERVE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin",
    "HOME": "/home/ada",
    "LANG": "en_GB.UTF-8",
    "USER": "ada",
    "SKYBINDER_GITHUB_TOKEN": "ghp_1",
    "GITHUB_TOKEN": "ghp_2",
    "AWS_ACCESS_KEY_ID": "AKIA",
    "AWS_SECRET_ACCESS_KEY": "s",
    "JUPYTER_TOKEN": "the-users-own-jupyter",
    "PYTHONPATH": "/home/ada/lib",
    "HTTPS_PROXY": "http://proxy:3128",
    "UV_INDEX_URL": "https://mirror.example/simple",
    "SSL_CERT_FILE": "/etc/ssl/ca.pem",
}
SECRETS = ("SKYBINDER_GITHUB_TOKEN", "GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_repository_code_sees_what_repo2docker_gives_and_nothing_of_the_binders() -> None:
    env = repository_environment(
        venv="/d/envs/k/venv",
        repo_dir="/d/sessions/s/work",
        pass_env=["HTTPS_PROXY", "NOT_SET"],
        extra={"BINDER_REQUEST": "v2/gh/u/r/HEAD", "JUPYTER_TOKEN": "session-token"},
        environ=SERVE_ENV,
    )
    assert not set(SECRETS) & set(env) and "PYTHONPATH" not in env and "UV_INDEX_URL" not in env
    assert env["JUPYTER_TOKEN"] == "session-token"  # the session's, never the user's own
    # As in a repo2docker image: the repository is HOME, and its .local/bin comes first.
    assert env["PATH"] == "/d/sessions/s/work/.local/bin:/d/envs/k/venv/bin:/usr/local/bin:/usr/bin"
    assert (env["HOME"], env["LANG"], env["USER"], env["NB_USER"]) == (
        "/d/sessions/s/work", "en_GB.UTF-8", "ada", "ada",
    )  # fmt: skip
    assert env["REPO_DIR"] == "/d/sessions/s/work"
    assert env["VIRTUAL_ENV"] == env["NB_PYTHON_PREFIX"] == "/d/envs/k/venv"
    assert env["HTTPS_PROXY"] == "http://proxy:3128" and "NOT_SET" not in env
    assert env["BINDER_REQUEST"] == "v2/gh/u/r/HEAD"


def test_without_a_passed_proxy_repository_code_gets_none() -> None:
    env = repository_environment(venv="/v", repo_dir="/r", environ=SERVE_ENV)
    assert "HTTPS_PROXY" not in env and env["LANG"] == "en_GB.UTF-8"
    assert repository_environment(venv="/v", repo_dir="/r", environ={})["LANG"] == "C.UTF-8"


def test_build_tools_get_their_settings_but_no_secrets() -> None:
    env = tool_environment(environ=SERVE_ENV)
    assert not set(SECRETS) & set(env) and "JUPYTER_TOKEN" not in env
    assert env["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert env["HTTPS_PROXY"] == "http://proxy:3128" and env["SSL_CERT_FILE"] == "/etc/ssl/ca.pem"
    assert env["HOME"] == "/home/ada"


def test_uv_never_reads_a_repositorys_own_configuration(tmp_path: Path) -> None:
    assert uv_config_args({"XDG_CONFIG_HOME": str(tmp_path)}) in (
        ["--no-config"],
        ["--config-file", "/etc/uv/uv.toml"],
    )
    (tmp_path / "uv").mkdir()
    (tmp_path / "uv" / "uv.toml").write_text('index-url = "https://mirror.example/simple"\n')
    own = str(tmp_path / "uv" / "uv.toml")
    assert uv_config_args({"XDG_CONFIG_HOME": str(tmp_path)}) == ["--config-file", own]
    assert uv_config_args({"UV_CONFIG_FILE": own}) == []


def test_the_data_directory_and_secrets_are_the_owners_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    private_dir(data)
    assert mode(data) == 0o700
    token = access_token(data, None)
    assert token and len(token) >= 40 and mode(data / "token") == 0o600
    assert (data / "token").read_text().strip() == token
    assert access_token(data, None) != token  # a new one at every start
    assert access_token(data, "  chosen ") == "chosen"
    assert access_token(data, "") is None and not (data / "token").exists()
    home = tmp_path / "home"  # `--data-dir ~`: a folder of the user's, not the binder's
    (home / "notes").mkdir(parents=True)
    home.chmod(0o755)
    assert mode(private_dir(home)) == 0o755
    key = store_key(data)
    assert len(key) == 32 and mode(data / "store-key") == 0o600
    (data / "store-key").chmod(0o644)
    assert store_key(data) == key and mode(data / "store-key") == 0o600  # kept, narrowed


def test_sessions_accept_the_binders_origin_locally_and_every_origin_in_aws() -> None:
    local = JupyterOptions(allow_origin=session_origin(LocalSettings(host="127.0.0.1", port=9)))
    assert "--ServerApp.allow_origin=http://127.0.0.1:9" in jupyter_args("/s/x/", "h", 1, local)
    assert "--ServerApp.allow_origin=*" in jupyter_args("/s/x/", "h", 1, JupyterOptions())
    assert session_origin(LocalSettings(host="::1", port=9)) == "http://[::1]:9"


def test_the_names_a_local_binder_answers_to() -> None:
    names = served_names(LocalSettings(host="lab.example", allow_hosts=["Binder.Example"]))
    assert {"lab.example", "binder.example", os.uname().nodename.lower()} <= names
    assert "0.0.0.0" not in served_names(LocalSettings(host="0.0.0.0"))


@pytest.mark.parametrize(
    ("binder", "sent"),
    [
        ("http://127.0.0.1:8585", True),
        ("http://localhost:9000/", True),
        ("http://[::1]:8585", True),
        ("https://mybinder.org", False),
        ("http://127.0.0.1.evil.example:8585", False),
    ],
)
def test_skybinder_launch_sends_the_token_file_to_a_local_binder_only(
    tmp_path: Path, binder: str, sent: bool
) -> None:
    (tmp_path / "token").write_text("tok\n")
    assert local_token(binder, tmp_path) == ("tok" if sent else None)
    assert local_token("http://127.0.0.1:8585", tmp_path / "missing") is None


def test_turning_a_guard_off_is_said_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    from skybinder.cli import _warn_open

    _warn_open("a-token", ["https://book.example"])
    assert capsys.readouterr().out == ""
    _warn_open(None, ["*"])
    said = " ".join(capsys.readouterr().out.split())
    assert "the access token is off" in said and "anyone who can reach this binder" in said
    assert "--allow-origin '*'" in said
