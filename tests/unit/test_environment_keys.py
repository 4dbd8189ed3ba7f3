"""Environment keys read from trees without cloning: the rules (domain/environment.py) and
the GitHub, GitLab and plain git readers, on recorded API answers and real git servers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from skybinder.adapters.providers import ProviderResolver
from skybinder.adapters.providers.cache import CachingResolver
from skybinder.adapters.providers.git_tree import GitTree
from skybinder.adapters.providers.guard import UrlGuard
from skybinder.adapters.providers.safe_http import SafeHttp
from skybinder.domain.environment import (
    CONTENT_DEPENDENT,
    NoKey,
    environment_key,
    is_local_pip_requirement,
    read_digest,
)
from tests.git_http import commit_files, git, git_http_server
from tests.provider_fakes import NOW, FakeDns
from tests.recorded_trees import RecordedGitHub, RecordedGitLab

REQS = "numpy==2.1\npandas\n"
BASE = {"requirements.txt": REQS, "index.ipynb": "{}", "README.md": "# hi"}


def sha(n: int) -> str:
    return f"{n:040x}"


def gh_resolver(github: RecordedGitHub, *, environments: bool = True) -> ProviderResolver:
    return ProviderResolver(
        github.client(), now=lambda: NOW, getaddrinfo=FakeDns(), environments=environments
    )


def gh_digest(files: dict[str, str]) -> str:
    github = RecordedGitHub()
    github.add("u", "r", sha(1), files)
    return gh_resolver(github).resolve("gh", f"u/r/{sha(1)}").env_digest


# -- the rules, through GitHub's trees API ------------------------------------------------


def test_commits_that_change_only_content_share_a_key_and_dependency_changes_do_not() -> None:
    base = gh_digest(BASE)
    assert len(base) == 64
    assert gh_digest({**BASE, "index.ipynb": '{"cells": []}', "data/x.csv": "1,2"}) == base
    assert gh_digest({**BASE, "requirements.txt": "numpy==2.2\n"}) != base
    assert gh_digest({**BASE, "apt.txt": "graphviz\n"}) != base
    assert gh_digest({"index.ipynb": "{}"}) == gh_digest({"other.ipynb": "x"})  # no config


def test_binder_folder_takes_precedence_over_the_root() -> None:
    binder = {"binder/requirements.txt": REQS, "binder/runtime.txt": "python-3.12\n"}
    with_root = gh_digest({**binder, "requirements.txt": "ignored\n", "postBuild": "rm -rf /"})
    assert with_root == gh_digest(binder)  # root files are not read when binder/ exists
    assert with_root != gh_digest({"requirements.txt": REQS, "runtime.txt": "python-3.12\n"})
    dot = gh_digest({".binder/requirements.txt": REQS, ".binder/runtime.txt": "python-3.12\n"})
    assert dot and dot != with_root  # the paths are part of the key
    assert gh_digest({**binder, "setup.py": "", "DESCRIPTION": ""}) == gh_digest(binder)
    assert gh_digest({**binder, ".binder/requirements.txt": REQS}) == ""  # both: repo2docker fails


@pytest.mark.parametrize("name", sorted(CONTENT_DEPENDENT))
@pytest.mark.parametrize("folder", ["", "binder/"])
def test_a_content_dependent_file_in_the_config_folder_means_no_key(name: str, folder: str) -> None:
    files = {f"{folder}requirements.txt": REQS, "index.ipynb": "{}"}
    assert gh_digest(files)
    assert gh_digest({**files, f"{folder}{name}": "#!/bin/sh\n"}) == ""


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.py", "from setuptools import setup\nsetup()\n"),
        ("DESCRIPTION", "Package: mine\n"),
        ("pyproject.toml", '[project]\nname = "x"\n[build-system]\nrequires = ["hatchling"]\n'),
        ("pyproject.toml", "not = valid = toml"),
        ("requirements.txt", "numpy\n-e .\n"),
        ("requirements.txt", ".\n"),
        ("requirements.txt", "-r more.txt\n"),
        ("requirements.txt", "--requirement=more.txt\n"),
        ("requirements.txt", "-c constraints.txt\n"),
        ("requirements.txt", "./pkg\n"),
        ("requirements.txt", "file:///srv/pkg\n"),
        ("requirements3.txt", "-e ./lib\n"),
        ("environment.yml", "dependencies:\n  - python=3.12\n  - pip:\n    - -e .\n"),
        ("environment.yaml", "dependencies:\n  - pip:\n      - -r requirements.txt\n"),
        ("Pipfile", '[packages]\nmine = {path = ".", editable = true}\n'),
        ("Pipfile.lock", '{"default": {"mine": {"path": "."}}, "develop": {}}'),
        ("Project.toml", 'name = "Mine"\nuuid = "1e2f"\n[deps]\n'),
        ("Project.toml", '[sources]\nLocal = {path = "lib/Local"}\n'),
        ("Manifest.toml", '[[deps.Local]]\npath = "lib/Local"\nuuid = "1"\n'),
        ("install.R", 'install.packages("ggplot2")\nsource("R/helpers.R")\n'),
        ("install.R", "renv::restore()\n"),
        ("install.R", "devtools::install()\n"),
        ("requirements.txt", "link:../elsewhere/requirements.txt"),
        ("requirements.txt", "submodule:" + "f" * 40),
    ],
)
def test_files_that_make_the_build_read_the_repository_mean_no_key(name: str, content: str) -> None:
    assert gh_digest({"index.ipynb": "{}", name: content}) == ""


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
        (
            "requirements.txt",
            "--pre\nnumpy>=2 # comment with -e .\n-e git+https://x.org/y.git#egg=y\n",
        ),
        (
            "environment.yml",
            "channels:\n  - conda-forge\ndependencies:\n  - python=3.12\n  - pip:\n    - rich\n",
        ),
        ("Pipfile", '[packages]\nrequests = "*"\n'),
        ("Pipfile.lock", '{"default": {"requests": {"version": "==2.32"}}}'),
        ("Project.toml", '[deps]\nPlots = "91a5bcdd-55d7-5caf-9e0b-520d859cae80"\n'),
        ("Manifest.toml", '[[deps.Plots]]\nuuid = "91a5"\nversion = "1.40.0"\n'),
        ("install.R", 'install.packages(c("ggplot2", "dplyr"))  # source("x.R") in a comment\n'),
        ("apt.txt", "graphviz\n"),
        ("runtime.txt", "python-3.12\n"),
    ],
)
def test_dependency_files_that_read_nothing_else_keep_their_key(name: str, content: str) -> None:
    assert gh_digest({"index.ipynb": "{}", name: content})


def test_local_pip_requirements_follow_repo2docker() -> None:
    local = ["-e .", ".", "./x", "../x", "-r a.txt", "-c c.txt", "--editable=./x", "file:x"]
    remote = ["numpy", "-e git+https://h/x.git", "--pre", "# -e .", "", "--index-url=https://h"]
    assert all(is_local_pip_requirement(line) for line in local)
    assert not any(is_local_pip_requirement(line) for line in remote)


def test_the_key_reads_one_tree_per_folder_and_only_the_files_it_checks() -> None:
    github = RecordedGitHub()
    files = {"binder/requirements.txt": REQS, "binder/apt.txt": "git\n", "nb.ipynb": "{}"}
    github.add("u", "r", sha(1), files, "main")
    repo = gh_resolver(github).resolve("gh", "u/r/main")
    assert repo.env_digest and repo.ref == sha(1)
    assert github.requests == [
        "api.github.com/repos/u/r/commits/main",
        f"api.github.com/repos/u/r/git/trees/{sha(1)}",
        f"api.github.com/repos/u/r/git/trees/{github_tree_sha(github, 'binder')}",
        f"raw.githubusercontent.com/u/r/{sha(1)}/binder/requirements.txt",
    ]


def github_tree_sha(github: RecordedGitHub, path: str) -> str:
    from tests.recorded_trees import tree_id

    return tree_id(github.commits["u", "r"][sha(1)], path)


def test_a_file_that_is_not_the_listed_blob_gives_no_key() -> None:
    github = RecordedGitHub()
    github.add("u", "r", sha(1), {"requirements.txt": REQS})
    handle = github.handle

    def tampered(request: httpx.Request) -> httpx.Response:
        if request.headers["host"] == "raw.githubusercontent.com":
            return httpx.Response(200, content=b"-e .\n")  # not what the tree lists
        return handle(request)

    client = httpx.Client(transport=httpx.MockTransport(tampered))
    resolver = ProviderResolver(client, getaddrinfo=FakeDns(), environments=True)
    assert resolver.resolve("gh", f"u/r/{sha(1)}").env_digest == ""


def test_a_tree_that_cannot_be_read_keeps_the_launch_and_its_own_image() -> None:
    github = RecordedGitHub()
    github.add("u", "r", sha(1), BASE)
    handle = github.handle

    def no_trees(request: httpx.Request) -> httpx.Response:
        if "/git/trees/" in request.url.path:
            return httpx.Response(403, headers={"x-ratelimit-remaining": "0"}, json={})
        return handle(request)

    client = httpx.Client(transport=httpx.MockTransport(no_trees))
    resolver = ProviderResolver(client, getaddrinfo=FakeDns(), environments=True)
    repo = resolver.resolve("gh", f"u/r/{sha(1)}")
    assert repo.ref == sha(1) and repo.env_digest == ""


def test_keys_are_read_only_when_asked_and_cached_with_the_resolution() -> None:
    github = RecordedGitHub()
    github.add("u", "r", sha(1), BASE, "main")
    assert gh_resolver(github, environments=False).resolve("gh", "u/r/main").env_digest == ""
    assert len(github.requests) == 1  # the commit only
    cached = CachingResolver(gh_resolver(github))
    first = cached.resolve("gh", "u/r/main")
    asked = len(github.requests)
    assert cached.resolve("gh", "u/r/main").env_digest == first.env_digest != ""
    assert len(github.requests) == asked


def test_the_builder_version_is_part_of_the_key() -> None:
    digest = gh_digest(BASE)
    assert environment_key(digest, "r2d-2026.4.0") != environment_key(digest, "r2d-2026.5.0")
    assert len(environment_key(digest, "v")) == 40


# -- GitLab -----------------------------------------------------------------------------


def gl_digest(gitlab: RecordedGitLab, namespace: str, commit: str) -> str:
    resolver = ProviderResolver(gitlab.client(), getaddrinfo=FakeDns(), environments=True)
    return resolver.resolve("gl", f"{quote(namespace, safe='')}/{commit}").env_digest


def test_gitlab_keys_match_githubs_for_the_same_files_and_follow_the_same_rules() -> None:
    gitlab = RecordedGitLab()
    gitlab.add("group/sub/project", sha(1), BASE)
    gitlab.add("group/sub/project", sha(2), {**BASE, "binder/requirements.txt": REQS})
    gitlab.add(
        "group/sub/project",
        sha(3),
        {**BASE, "binder/requirements.txt": REQS, "binder/postBuild": "x"},
    )
    gitlab.add("group/sub/project", sha(4), {**BASE, "requirements.txt": "-e .\n"})
    assert gl_digest(gitlab, "group/sub/project", sha(1)) == gh_digest(BASE)
    assert gl_digest(gitlab, "group/sub/project", sha(2)) == gh_digest(
        {"binder/requirements.txt": REQS}
    )
    assert gl_digest(gitlab, "group/sub/project", sha(3)) == ""
    assert gl_digest(gitlab, "group/sub/project", sha(4)) == ""
    tree = [r for r in gitlab.requests if "/repository/tree?" in r]
    assert any("path=binder" in r for r in tree)


def test_gitlab_roots_of_more_than_a_page_are_read_to_the_end() -> None:
    gitlab = RecordedGitLab()
    many = {f"notebook-{i:03}.ipynb": "{}" for i in range(230)}
    gitlab.add("g/p", sha(1), {**many, "requirements.txt": REQS, "zz/postBuild": "x"})
    gitlab.add("g/p", sha(2), {**many, "requirements.txt": REQS, "postBuild": "x"})
    assert gl_digest(gitlab, "g/p", sha(1)) == gh_digest({"requirements.txt": REQS})
    assert gl_digest(gitlab, "g/p", sha(2)) == ""  # postBuild is on the third page
    assert sum("page=3" in r for r in gitlab.requests) == 2


# -- plain git, with dulwich, against a real git server ---------------------------------


def test_plain_git_keys_come_from_a_blobless_fetch_and_match_the_apis(tmp_path: Path) -> None:
    work, root = tmp_path / "work", tmp_path / "srv"
    root.mkdir()
    git("init", "-q", "-b", "main", work)
    first = commit_files(work, {**BASE, "big/data.bin": "x" * 200_000})
    content_only = commit_files(work, {"index.ipynb": '{"cells": [1]}'})
    with_post_build = commit_files(work, {"postBuild": "#!/bin/sh\n"})
    git("clone", "-q", "--bare", work, root / "r.git")
    git("config", "uploadpack.allowFilter", "true", cwd=root / "r.git")
    with git_http_server(root) as (url, log):
        http = SafeHttp(httpx.Client(), UrlGuard(allow_local=True))
        reader = GitTree(http, f"{url}/r.git", first)
        assert read_digest(reader) == gh_digest(BASE)
        big = reader.tree("big", reader.root()["big"])["data.bin"].sha
        assert big.encode() not in reader.repo.object_store  # blobless: never downloaded
        assert read_digest(GitTree(http, f"{url}/r.git", content_only)) == gh_digest(BASE)
        with pytest.raises(NoKey, match="postBuild"):
            read_digest(GitTree(http, f"{url}/r.git", with_post_build))
        resolver = ProviderResolver(httpx.Client(), allow_local=True, environments=True)
        spec = f"{quote(url + '/r.git', safe='')}/main"
        assert resolver.resolve("git", spec).env_digest == ""  # main is the postBuild commit
        missing = GitTree(http, f"{url}/r.git", sha(9))
        with pytest.raises(NoKey):
            read_digest(missing)
    assert any(line.startswith("POST /r.git/git-upload-pack") for line in log)


def test_git_urls_outside_http_and_data_providers_keep_images_per_commit() -> None:
    resolver = ProviderResolver(httpx.Client(), getaddrinfo=FakeDns(), environments=True)
    spec = f"{quote('git://example.org/r.git', safe='')}/{sha(1)}"
    assert resolver.resolve("git", spec).env_digest == ""
    per_commit = {"gist", "zenodo", "figshare", "dataverse", "hydroshare", "ckan"}
    for provider in resolver.providers:
        if provider.prefix in per_commit:
            assert provider.environment_reader(None, sha(1)) is None, provider.prefix
