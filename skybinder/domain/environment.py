"""The environment key: what determines a repo2docker image, read from a repository's tree.

repo2docker (2026.4) builds an image in two halves. Before the repository is copied in, it
runs the "preassemble" steps, which see only a few dependency files (requirements.txt,
environment.yml, apt.txt, install.R, ...); after the copy, the "assemble" steps and postBuild,
which may read any file. When every step of a repository's build is a preassemble step, the
image depends only on those files, so commits (and forks) with the same files can share one
image and get their own content at start. The key is a digest of those files' paths and git
blob ids (a blob id is a digest of the content), and the service adds the builder's version.

A repository gets no key — and keeps an image per commit — when its build reads more than the
dependency files: a Dockerfile, postBuild, start (run at container start, from the image's
copy), default.nix (nix-shell runs after the copy and may import any file), a Python or R
package installed from the repository (setup.py, a pyproject.toml with [project] and
[build-system], DESCRIPTION), requirement files that point at repository files (`-e .`,
`-r other.txt`, a local path), a Julia project that is itself a package or uses local paths,
an install.R that reads files, a .dockerignore that changes what is copied, or anything this
module cannot read with certainty (links, both binder/ and .binder/, unparsable files).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["blob", "tree", "link", "commit"]
CONFIG_DIRS = ("binder", ".binder")
# Files of the configuration directory whose blob ids make up the key. Those with a check
# are read too: their text can make the build read other files of the repository.
KEY_FILES = (
    "apt.txt",
    "runtime.txt",
    "requirements.txt",
    "requirements3.txt",
    "environment.yml",
    "environment.yaml",
    "Pipfile",
    "Pipfile.lock",
    "install.R",
    "Project.toml",
    "JuliaProject.toml",
    "Manifest.toml",
    "JuliaManifest.toml",
)
# Files of the configuration directory that make the build read the whole repository.
CONTENT_DEPENDENT = {
    "Dockerfile": "a Dockerfile build",
    "postBuild": "postBuild runs after the repository is copied in",
    "start": "start runs from the image's copy of the repository",
    "default.nix": "nix-shell evaluates default.nix after the repository is copied in",
    "REQUIRE": "REQUIRE (Julia) is no longer built by repo2docker",
    ".dockerignore": ".dockerignore changes what the image holds",
    ".containerignore": ".containerignore changes what the image holds",
}
# Files of the repository root that repo2docker reads only when there is no binder/ folder.
ROOT_ONLY_CONTENT_DEPENDENT = {
    "setup.py": "setup.py installs the repository itself",
    "DESCRIPTION": "DESCRIPTION installs the repository as an R package",
}
ROOT_PYPROJECT = "pyproject.toml"
MAX_TEXT = 1024 * 1024  # a dependency file larger than this is not read: no key


@dataclass(frozen=True)
class Entry:
    """One entry of a git tree: a file (blob), a folder (tree), a symlink or a submodule."""

    name: str
    kind: Kind
    sha: str


Tree = Mapping[str, Entry]


@dataclass(frozen=True)
class KeyPlan:
    """The files a key is made of (path -> blob id) and those of them that must be read."""

    files: dict[str, str] = field(default_factory=dict)
    to_read: tuple[str, ...] = ()


class NoKey(Exception):
    """The repository's build depends on more than its dependency files; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TreeReader(Protocol):
    """A repository at one commit, as a provider's API shows it."""

    def root(self) -> Tree:
        """The entries of the commit's root folder."""
        ...

    def tree(self, path: str, entry: Entry) -> Tree:
        """The entries of the folder `entry` (at `path`)."""
        ...

    def read(self, path: str, sha: str) -> bytes:
        """The content of the file `path`, whose blob id is `sha`."""
        ...


def read_digest(reader: TreeReader) -> str:
    """The environment digest of the repository `reader` shows; NoKey when it has none."""
    root = reader.root()
    config = config_dir(root)
    config_tree = reader.tree(config, root[config]) if config else None
    plan = plan_key(root, config, config_tree)
    texts = {path: reader.read(path, plan.files[path]) for path in plan.to_read}
    check_texts(plan, texts)
    return environment_digest(plan)


def blob_id(data: bytes) -> str:
    """The git blob id of `data`: what a tree lists for a file with this content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def entry_kind(mode: str, kind: str) -> Kind:
    """An entry's kind from a git tree mode ("100644", "120000", ...) and its object type."""
    if mode.endswith("120000"):
        return "link"
    if kind in ("blob", "tree", "commit"):
        return kind  # type: ignore[return-value]
    raise NoKey(f"unknown tree entry type {kind!r}")


def config_dir(root: Tree) -> str:
    """The folder repo2docker reads ("binder", ".binder", or "" for the root), as it chooses:
    binder/ or .binder/ exclusively when present. NoKey when it cannot be told for sure."""
    found = []
    for name in CONFIG_DIRS:
        entry = root.get(name)
        if entry is None:
            continue
        if entry.kind == "link":
            raise NoKey(f"{name} is a symbolic link")
        if entry.kind == "tree":
            found.append(name)
    if len(found) > 1:
        raise NoKey("both binder/ and .binder/ exist (repo2docker refuses to build it)")
    return found[0] if found else ""


def plan_key(root: Tree, config: str, config_tree: Tree | None) -> KeyPlan:
    """The key's files, from the root tree and (when `config` is a folder) its tree.
    NoKey when the build depends on more of the repository."""
    where = root if not config else config_tree
    if where is None:
        raise NoKey(f"the {config}/ folder could not be listed")
    prefix = f"{config}/" if config else ""
    for name, why in CONTENT_DEPENDENT.items():
        if name in where:
            raise NoKey(f"{prefix}{name}: {why}")
    files: dict[str, str] = {}
    for name in KEY_FILES:
        _add(files, where, name, prefix)
    if not config:
        for name, why in ROOT_ONLY_CONTENT_DEPENDENT.items():
            if name in root:
                raise NoKey(f"{name}: {why}")
        _add(files, root, ROOT_PYPROJECT, "")
    to_read = tuple(path for path in files if path.rsplit("/", 1)[-1] in CHECKS)
    return KeyPlan(files=dict(sorted(files.items())), to_read=to_read)


def _add(files: dict[str, str], where: Tree, name: str, prefix: str) -> None:
    entry = where.get(name)
    if entry is None:
        return
    if entry.kind != "blob":
        raise NoKey(f"{prefix}{name} is not a regular file")
    files[prefix + name] = entry.sha


def check_texts(plan: KeyPlan, texts: Mapping[str, bytes]) -> None:
    """NoKey when one of the files the plan reads makes the build read other files."""
    for path in plan.to_read:
        data = texts.get(path)
        if data is None:
            raise NoKey(f"{path} could not be read")
        if len(data) > MAX_TEXT:
            raise NoKey(f"{path} is larger than {MAX_TEXT // 1024} kB")
        reason = CHECKS[path.rsplit("/", 1)[-1]](data.decode("utf-8", "replace"))
        if reason:
            raise NoKey(f"{path}: {reason}")


def environment_digest(plan: KeyPlan) -> str:
    """The digest of the key's files: their paths and blob ids, in path order."""
    blob = json.dumps(sorted(plan.files.items()), separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def environment_key(digest: str, builder_version: str) -> str:
    """The image key of an environment digest under one builder (40 hex characters)."""
    return hashlib.sha256(f"{builder_version}\n{digest}".encode()).hexdigest()[:40]


# -- what makes a dependency file read other files ----------------------------------------


def is_local_pip_requirement(line: str) -> bool:
    """True when a requirements line refers to a file of the repository (repo2docker's rule):
    `-r`/`-c` includes, `.`-relative paths (`-e .`, `./pkg`) and file: URLs."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("--pre"):
        return False
    if line.startswith(("-r", "-c", "--requirement", "--constraint")):
        return True
    if line.startswith("--") and "=" in line:
        line = line.split("=", 1)[1]
    elif line.startswith("-"):
        parts = line.split(None, 1)
        if len(parts) < 2:
            return False
        line = parts[1]
    if "file://" in line or line.startswith("file:"):
        return True
    path = line.split("://", 1)[1] if "://" in line else line
    return path.startswith(".")


def _requirements(text: str) -> str:
    local = [line.strip() for line in text.splitlines() if is_local_pip_requirement(line)]
    return f"installs from the repository ({local[0][:60]})" if local else ""


_YAML_ITEM = re.compile(r"^\s*-\s+(.+?)\s*$")


def _environment_yml(text: str) -> str:
    # Every list item is checked, not only the pip section's: a conservative reading never
    # shares an image it should not (a conda channel given as a local path is local too).
    for line in text.splitlines():
        match = _YAML_ITEM.match(line.split(" #", 1)[0])
        if match and is_local_pip_requirement(match.group(1).strip("'\"")):
            return f"installs from the repository ({match.group(1)[:60]})"
    return ""


def _pipfile(text: str) -> str:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "is not valid TOML"
    return _local_sources(data.get("packages"), data.get("dev-packages"))


def _pipfile_lock(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return "is not valid JSON"
    if not isinstance(data, dict):
        return "is not a lock file"
    return _local_sources(data.get("default"), data.get("develop"))


def _local_sources(*sections: object) -> str:
    for section in sections:
        if not isinstance(section, dict):
            continue
        for name, spec in section.items():
            if isinstance(spec, dict) and ({"path", "file"} & set(spec)):
                return f"installs {name} from the repository"
    return ""


def _julia_project(text: str) -> str:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "is not valid TOML"
    if "name" in data or "uuid" in data:
        return "the project is a package: its code is compiled with the environment"
    sources = data.get("sources")
    if isinstance(sources, dict) and any(
        isinstance(s, dict) and "path" in s for s in sources.values()
    ):
        return "a source is a local path"
    return ""


_MANIFEST_PATH = re.compile(r"^\s*path\s*=", re.MULTILINE)


def _julia_manifest(text: str) -> str:
    return "a package is a local path" if _MANIFEST_PATH.search(text) else ""


# install.R runs before the copy; if it fails there, repo2docker runs it again after the copy.
# Calls that read files (or restore a lock file, or install the repository) make it depend
# on the repository: such a script gets no key.
_R_READS_FILES = re.compile(
    r"\b(source|sys\.source|setwd|load|readRDS|readLines|read\.\w+|read_\w+|file\.\w+|"
    r"list\.files|install_local|local_install|install_deps|restore)\s*\("
    r"|\b(devtools|remotes|pak)::install\s*\(\s*\)"
    r"|\brenv::"
)


def _install_r(text: str) -> str:
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    match = _R_READS_FILES.search(code)
    return f"may read repository files ({match.group(0)[:40]})" if match else ""


def _root_pyproject(text: str) -> str:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "is not valid TOML"
    if "project" in data and "build-system" in data:
        return "the repository is a Python package, installed with its code"
    return ""


CHECKS: dict[str, Callable[[str], str]] = {
    "requirements.txt": _requirements,
    "requirements3.txt": _requirements,
    "environment.yml": _environment_yml,
    "environment.yaml": _environment_yml,
    "Pipfile": _pipfile,
    "Pipfile.lock": _pipfile_lock,
    "Project.toml": _julia_project,
    "JuliaProject.toml": _julia_project,
    "Manifest.toml": _julia_manifest,
    "JuliaManifest.toml": _julia_manifest,
    "install.R": _install_r,
    ROOT_PYPROJECT: _root_pyproject,
}
