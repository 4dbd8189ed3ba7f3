"""The config file (`skybinder serve --config`), the GitHub token's sources, and reading the
token in AWS from SSM Parameter Store or Secrets Manager (on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from skybinder.adapters.aws.github_token import TokenReadError, read_github_token
from skybinder.config import ConfigFileError, load_local_settings, read_config_file

CONFIG = """
github_token = "ghp_from_file"
max_sessions_per_repo = 5

[providers]
gitlab_hosts = ["gitlab.example.org"]
per_repo_quota_higher = 50
disabled = ["ckan"]

[providers.policy.gh]
banned_specs = ["^ines/spacy-binder.*"]
high_quota_specs = ["^binder-examples/"]
spec_config = [{ pattern = "^my-org/course", config = { quota = 100 } }]

[providers.policy.gl]
allowed_specs = ["^my-group%2F"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skybinder.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_sets_providers_quota_and_token(tmp_path: Path) -> None:
    settings = load_local_settings(write(tmp_path, CONFIG), environ={}, port=9000)
    assert settings.port == 9000 and settings.max_sessions_per_repo == 5
    assert settings.github_token == "ghp_from_file"
    providers = settings.providers
    assert providers.gitlab_hosts == ["gitlab.example.org"]
    assert providers.disabled == ["ckan"]
    assert providers.policy_for("gh").is_banned("ines/spacy-binder/HEAD")
    assert providers.policy_for("gh").quota("my-org/course-1/HEAD", 50) == 100
    assert providers.policy_for("gh").quota("binder-examples/x/HEAD", 50) == 50
    assert providers.policy_for("gl").is_banned("other%2Fproject/main")


def test_no_config_file_means_defaults() -> None:
    settings = load_local_settings(None, environ={})
    assert settings.github_token is None
    assert settings.providers.policy == {} and settings.max_sessions_per_repo == 10


@pytest.mark.parametrize(
    ("environ", "token"),
    [
        ({"SKYBINDER_GITHUB_TOKEN": "ghp_own", "GITHUB_TOKEN": "ghp_generic"}, "ghp_own"),
        ({"GITHUB_TOKEN": "ghp_generic"}, "ghp_from_file"),
        ({"SKYBINDER_GITHUB_TOKEN": "  "}, "ghp_from_file"),
    ],
)
def test_token_precedence(tmp_path: Path, environ: dict[str, str], token: str) -> None:
    assert load_local_settings(write(tmp_path, CONFIG), environ=environ).github_token == token


def test_generic_token_variable_is_the_fallback() -> None:
    assert load_local_settings(None, environ={"GITHUB_TOKEN": "ghp_generic\n"}).github_token == (
        "ghp_generic"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("github_token = ", "is not valid TOML"),
        ("[providers]\nunknown = 1\n", "providers.unknown: Extra inputs are not permitted"),
        ("[providers.policy.svn]\n", "unknown provider 'svn'"),
        ('[providers.policy.gh]\nbanned_specs = ["(x"]\n', "is not a valid regular expression"),
        ("max_sessions = 3\n", "max_sessions: Extra inputs are not permitted"),
    ],
)
def test_config_file_mistakes_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigFileError, match=message) as caught:
        read_config_file(write(tmp_path, text))
    assert str(tmp_path / "skybinder.toml") in str(caught.value)


def test_missing_config_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="Could not read the config file"):
        read_config_file(tmp_path / "nope.toml")


# --- the token in AWS ----------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        yield


def test_token_from_an_ssm_secure_string(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/skybinder/github-token", Value="ghp_ssm\n", Type="SecureString")
    assert read_github_token(ssm, "/skybinder/github-token") == "ghp_ssm"
    assert read_github_token(ssm, "/skybinder/missing") is None


@pytest.mark.parametrize(
    "value", ["ghp_sm", json.dumps({"github_token": "ghp_sm"}), json.dumps({"token": "ghp_sm"})]
)
def test_token_from_secrets_manager(aws: None, value: str) -> None:
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.create_secret(Name="skybinder/github", SecretString=value)
    assert read_github_token(secrets, "skybinder/github") == "ghp_sm"
    assert read_github_token(secrets, "skybinder/other") is None


def test_secret_json_without_the_token_is_explained(aws: None) -> None:
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.create_secret(Name="skybinder/github", SecretString=json.dumps({"user": "x"}))
    with pytest.raises(TokenReadError, match="without a 'github_token' or 'token' key"):
        read_github_token(secrets, "skybinder/github")


def test_other_aws_errors_name_what_to_check(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    with Stubber(ssm) as stub:
        stub.add_client_error("get_parameter", "AccessDeniedException", http_status_code=400)
        with pytest.raises(TokenReadError, match=r"\(AccessDeniedException\).*role may read"):
            read_github_token(ssm, "/skybinder/github-token")
