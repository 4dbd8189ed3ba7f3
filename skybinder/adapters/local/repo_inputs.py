"""Which repo2docker config files a checkout has, and whether the local builder can use them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from skybinder.domain.errors import BuildError

# In repo2docker's buildpack order, so a repository is turned away for the file that would
# have decided its build there. Each reason completes "<file> ..., which the local builder
# does not support". R comes between Nix and conda (`_refuse_r`): repo2docker builds a
# repository with R only for an R runtime.txt or a root DESCRIPTION; an install.R alone is
# ignored there (the repository is built as Python), and so it is here.
UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("Dockerfile", "asks for a Docker build"),
    ("Project.toml", "needs Julia"),
    ("JuliaProject.toml", "needs Julia"),
    ("REQUIRE", "needs Julia"),
    ("default.nix", "needs Nix"),
    ("environment.yml", "needs conda"),
    ("Pipfile", "needs pipenv"),
    ("Pipfile.lock", "needs pipenv"),
    ("apt.txt", "installs system packages with apt"),
)
BEFORE_R = 5  # the entries of UNSUPPORTED that repo2docker looks at before R
BUILD_FILES = ("runtime.txt", "requirements.txt", "postBuild", "start")
PROJECT_FILES = ("setup.py", "pyproject.toml")  # the repository is installed from these
ADVICE = "use requirements.txt, or deploy skybinder to AWS where repo2docker builds it."

_PYTHON_RUNTIME = re.compile(r"python-(\d+)(?:\.(\d+))?(?:\.\d+)?")
_R_RUNTIME = re.compile(r"r-(?:\d+\.\d+(?:\.\d+)?-)?\d{4}-\d{2}-\d{2}")
# requirements.txt lines that point at files of the repository (pip resolves them against the
# working directory): other requirement files, constraints, local paths and file: URLs.
_LOCAL_REQUIREMENT = re.compile(
    r"^\s*(?:-[rc]|--requirement\b|--constraint\b)"
    r"|^\s*(?:(?:-e|--editable)[\s=]+)?(?:\.|/|~|file:)"
)


@dataclass(frozen=True)
class RepoInputs:
    """The build inputs found in a checkout; paths are relative to the repository root."""

    config_dir: Path  # ".", "binder" or ".binder"
    requirements: Path | None = None
    runtime: Path | None = None
    python_version: str | None = None  # "3" or "3.11" from runtime.txt; None: the default
    install_repo: bool = False  # pip-install the repository itself (setup.py / pyproject.toml)
    requirements_local: bool = False  # requirements.txt refers to other files of the repo
    post_build: Path | None = None
    start: Path | None = None

    @property
    def uses_repo_files(self) -> bool:
        """True when the environment depends on more of the repository than its config files."""
        return self.install_repo or self.requirements_local or self.post_build is not None


def detect_inputs(repo_dir: Path) -> RepoInputs:
    """Read the repo2docker configuration of the checkout at `repo_dir`.

    Like repo2docker, a `binder/` or `.binder/` directory is used exclusively when present,
    and the repository itself is installed only from a root `setup.py` or `pyproject.toml`
    when there is no such directory. Raises BuildError when the repository needs something
    the local builder cannot provide, naming the file and what to do instead.
    """
    config = _config_dir(repo_dir)
    where = repo_dir / config
    _refuse_unsupported(repo_dir, config)
    found = {name: _file(where, config, name) for name in BUILD_FILES}
    root_config = config == Path(".")
    setup = [Path(n) for n in PROJECT_FILES if root_config and (repo_dir / n).is_file()]
    # Before any of them is read, hashed, chmod-ed or handed to uv: a symbolic link out of the
    # checkout would make the builder read or change a file of the user's.
    check_inside(repo_dir, [config, *(p for p in found.values() if p), *setup])
    runtime, requirements = found["runtime.txt"], found["requirements.txt"]
    return RepoInputs(
        config_dir=config,
        requirements=requirements,
        runtime=runtime,
        python_version=parse_runtime(repo_dir / runtime, runtime) if runtime else None,
        install_repo=bool(setup),
        requirements_local=requirements is not None
        and refers_to_repo_files((repo_dir / requirements).read_text(errors="replace")),
        post_build=found["postBuild"],
        start=found["start"],
    )


def check_inside(repo_dir: Path, paths: list[Path]) -> None:
    """BuildError naming the first of `paths` (relative to `repo_dir`) that resolves outside
    the checkout, through a symbolic link of its own or of a folder on its way."""
    root = repo_dir.resolve()
    for path in paths:
        if not (repo_dir / path).resolve().is_relative_to(root):
            raise BuildError(
                f"{path.as_posix()} is a symbolic link that leads outside the repository; the "
                "builder reads only files inside it. Replace the link with the file itself."
            )


def _config_dir(repo_dir: Path) -> Path:
    found = [name for name in ("binder", ".binder") if (repo_dir / name).is_dir()]
    if len(found) > 1:
        raise BuildError(
            "The repository has both binder/ and .binder/, and repo2docker will not guess "
            "which one to use. Keep only one of them."
        )
    return Path(found[0]) if found else Path(".")


def _file(where: Path, config: Path, name: str) -> Path | None:
    return config / name if (where / name).is_file() else None


def _refuse_unsupported(repo_dir: Path, config: Path) -> None:
    where = repo_dir / config
    for index, (name, why) in enumerate(UNSUPPORTED):
        if index == BEFORE_R:
            _refuse_r(repo_dir, config)
        if (where / name).exists():
            _refuse(config / name, why)


def _refuse_r(repo_dir: Path, config: Path) -> None:
    """repo2docker's R rule: an `r-<date>` runtime.txt, or (without a binder folder) a
    DESCRIPTION file at the root."""
    runtime = repo_dir / config / "runtime.txt"
    # Read only inside the checkout (a link out of it is refused later, for what it is), and
    # only its first line, as repo2docker does.
    if runtime.is_file() and runtime.resolve().is_relative_to(repo_dir.resolve()):
        lines = runtime.read_text(errors="replace").strip().splitlines()
        text = lines[0].strip() if lines else ""
        if _R_RUNTIME.fullmatch(text):
            _refuse(config / "runtime.txt", f"asks for R ({text})")
    if config == Path(".") and (repo_dir / "DESCRIPTION").exists():
        _refuse(Path("DESCRIPTION"), "makes it an R package (it needs R)")


def _refuse(shown: Path, why: str) -> NoReturn:
    shown_as = shown.as_posix()
    raise BuildError(f"{shown_as} {why}, which the local builder does not support; {ADVICE}")


def parse_runtime(path: Path, shown: Path) -> str | None:
    """The Python version runtime.txt asks for ("3.11", or "3" for any Python 3), or None.

    Raises BuildError for an R runtime (`r-2024-01-01`), Python 2, or anything unknown.
    """
    lines = path.read_text(errors="replace").strip().splitlines()
    if not lines:
        return None
    # One line is all repo2docker reads; a message quotes at most that line, never the file.
    text = lines[0].strip()
    if _R_RUNTIME.fullmatch(text):
        raise BuildError(
            f"{shown.as_posix()} asks for R ({text}), which the local builder does not "
            f"support; {ADVICE}"
        )
    match = _PYTHON_RUNTIME.fullmatch(text)
    if match is None:
        raise BuildError(
            f"{shown.as_posix()} says '{text[:60]}', which is not a runtime repo2docker knows. "
            "Write python-3.X in it (for example python-3.12)."
        )
    major, minor = match.group(1), match.group(2)
    if major != "3":
        raise BuildError(
            f"{shown.as_posix()} asks for Python {major}; the local builder supports Python 3 "
            "only. Write python-3.X in it (for example python-3.12)."
        )
    return f"{major}.{minor}" if minor is not None else major


def refers_to_repo_files(requirements_text: str) -> bool:
    """True when a requirements file names other files of the repository (`-e .`, `-r x.txt`)."""
    return any(_LOCAL_REQUIREMENT.match(line) for line in requirements_text.splitlines())


def describe(inputs: RepoInputs) -> str:
    """What the build log says it found: where the configuration is read from, and which files."""
    found = [
        path.as_posix()
        for path in (inputs.requirements, inputs.runtime, inputs.post_build, inputs.start)
        if path is not None
    ]
    if inputs.install_repo:
        found.append("setup.py / pyproject.toml")
    where = "the repository root" if inputs.config_dir == Path(".") else f"{inputs.config_dir}/"
    listed = ", ".join(found) if found else "no build files (base packages only)"
    return f"Reading configuration from {where}: {listed}"
