"""The environment cache: bundles keyed by what determines them, each built once under a lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from skybinder.adapters.local.repo_inputs import RepoInputs

# Part of every key: bump it when the bundle layout or the build recipe changes, so bundles
# built the old way are not reused.
RECIPE_VERSION = 1
COMPLETE = ".complete"


@dataclass(frozen=True)
class EnvBundle:
    """envs/<key>/: the virtual environment, and the checkout when the environment owns it."""

    dir: Path

    @property
    def venv(self) -> Path:
        return self.dir / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def source(self) -> Path:
        return self.dir / "source"

    @property
    def complete(self) -> Path:
        return self.dir / COMPLETE


def env_key(
    *,
    python: str,
    python_version: str,
    base_packages: Sequence[str],
    repo_dir: Path,
    inputs: RepoInputs,
    repo_url: str,
    ref: str,
) -> str:
    """A key that changes whenever the environment built from these inputs could differ.

    `python` should be the interpreter's real path. The repository and ref are part of the key
    only when the environment depends on more of the repository than its config files: the
    repository is installed, requirements.txt refers to other files, or postBuild (arbitrary
    code that may read anything) runs. Otherwise every commit with the same files shares it.
    """
    files = {
        name: hashlib.sha256((repo_dir / path).read_bytes()).hexdigest()
        for name, path in (
            ("requirements", inputs.requirements),
            ("runtime", inputs.runtime),
            ("post_build", inputs.post_build),
        )
        if path is not None
    }
    determinants = {
        "recipe": RECIPE_VERSION,
        "python": [python, python_version],
        "base_packages": list(base_packages),
        "files": files,
        "repo": [repo_url, ref] if inputs.uses_repo_files else None,
    }
    blob = json.dumps(determinants, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


@contextmanager
def exclusive_lock(path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive flock on `path`; call `on_wait` first if someone else holds it.

    The kernel drops the lock when the process dies, so a crashed build never blocks others.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


class EnvironmentCache:
    """Bundles under `envs_dir`, reused when complete and rebuilt from scratch otherwise."""

    def __init__(self, envs_dir: Path) -> None:
        self.envs_dir = envs_dir

    def ensure(
        self,
        key: str,
        build: Callable[[EnvBundle], None],
        say: Callable[[str], None],
        built_from: str = "",
    ) -> tuple[EnvBundle, bool]:
        """The complete bundle for `key` and whether it was reused; `build` fills a new one.
        `built_from` ("<repository>@<commit>") is kept with a new bundle and named when a
        later build reuses it, in the words the cloud uses for a shared image.

        Virtual environments hard-code their own path, so a bundle is built in place (under
        the key's lock) rather than in a temporary directory and renamed; the `.complete`
        marker, written last, is what makes it usable. A bundle without it was left by an
        interrupted build and is removed first. If `build` raises, the bundle is removed.
        """
        bundle = EnvBundle(self.envs_dir / key)
        lock = self.envs_dir / f"{key}.lock"
        with exclusive_lock(lock, lambda: say("Waiting for another build of this environment")):
            if bundle.complete.is_file() and bundle.python.is_file():
                source = _built_from(bundle)
                whose = f" built for {source}" if source else ""
                say(f"Reusing the environment{whose} ({key[:12]}: same Python, packages and files)")
                return bundle, True
            if bundle.dir.exists():
                say("Removing an incomplete or broken environment left by an earlier build")
                shutil.rmtree(bundle.dir)
            bundle.dir.mkdir(parents=True)
            try:
                build(bundle)
                _mark_complete(bundle, key, built_from)
            except BaseException:
                shutil.rmtree(bundle.dir, ignore_errors=True)
                raise
        return bundle, False


def _built_from(bundle: EnvBundle) -> str:
    try:
        marker = json.loads(bundle.complete.read_text())
    except (OSError, ValueError):
        return ""
    found = marker.get("built_from") if isinstance(marker, dict) else None
    return found if isinstance(found, str) else ""


def _mark_complete(bundle: EnvBundle, key: str, built_from: str) -> None:
    tmp = bundle.dir / f"{COMPLETE}.tmp"
    record = {"key": key, "built_at": time.time(), "built_from": built_from}
    tmp.write_text(json.dumps(record) + "\n")
    # A rename is atomic: the marker is either absent or whole.
    os.replace(tmp, bundle.complete)
