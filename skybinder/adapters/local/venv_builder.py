"""The local Builder: a git checkout plus a cached uv virtual environment instead of an image."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import uv

from skybinder.adapters.local.build_log import BUILDING, FAILED, FETCHING, BuildLog, read_lines
from skybinder.adapters.local.build_slots import BuildSlots
from skybinder.adapters.local.clean_env import repository_environment, tool_environment
from skybinder.adapters.local.containment import Containment, scope_of
from skybinder.adapters.local.data_fetch import DataFetcher
from skybinder.adapters.local.env_steps import (
    Build,
    Interpreter,
    create_venv,
    find_python,
    install_packages,
    run_post_build,
    uv_cache_dir,
)
from skybinder.adapters.local.environments import (
    EnvBundle,
    EnvironmentCache,
    env_key,
    exclusive_lock,
)
from skybinder.adapters.local.git_checkout import fetch
from skybinder.adapters.local.images import ImageLayout, LocalImage, is_launchable
from skybinder.adapters.local.processes import Scope
from skybinder.adapters.local.repo_inputs import RepoInputs, describe, detect_inputs
from skybinder.adapters.local.requirement_refs import check_requirements
from skybinder.adapters.local.running_builds import RunningBuilds
from skybinder.adapters.providers.guard import UrlGuard
from skybinder.domain.errors import BuildError
from skybinder.service.ports import BuildJob, LogChunk

log = logging.getLogger(__name__)

DEFAULT_BASE_PACKAGES = ("jupyter-server", "jupyterlab", "ipykernel")
_BUILD_ID = re.compile(r"[0-9a-f]{16}")
UNEXPECTED = (
    "The local builder failed unexpectedly (the server log has the details). Try again; "
    "if it keeps failing, report it."
)


class VenvBuilder:
    """Builder for local mode: builds in a daemon thread and reports through `on_finished`.

    `on_finished(image_name, ok, reason, build_id)` is called exactly once per build, from the
    build's thread, after the build has given its builder back; `reason` is a message for a
    person when `ok` is False, empty otherwise. At most `max_builds` builds run at once (0: no
    cap); `start` raises BuilderBusyError beyond that, and the service queues the build.
    Every step runs in a container of `containment` named after the build, so a cancelled
    build (or one the binder gave up at shutdown) leaves no process behind. Repository code
    (postBuild) runs in a clean environment (clean_env.py) with the variables `pass_env`
    names; requirements files may point only inside the checkout and at public hosts
    (`url_guard`; requirement_refs.py).
    """

    def __init__(
        self,
        root: Path,
        on_finished: Callable[[str, bool, str, str], None],
        *,
        uv_bin: str | None = None,
        base_packages: Sequence[str] = DEFAULT_BASE_PACKAGES,
        python: str | None = None,
        data: DataFetcher | None = None,
        containment: Containment,
        max_builds: int = 0,
        pass_env: Sequence[str] = (),
        environ: Mapping[str, str] = os.environ,
        url_guard: UrlGuard | None = None,
    ) -> None:
        self.layout = ImageLayout(root)
        self.slots = BuildSlots(max_builds)
        self._pass_env = tuple(pass_env)
        self._environ = environ
        self._tool_env = tool_environment(pass_env, environ)
        self._guard = url_guard or UrlGuard(allow_local=False)
        self._data = data  # fetches the records of data providers (Zenodo, ...), not with git
        self._on_finished = on_finished
        self._uv = uv_bin or uv.find_uv_bin()
        self._base_packages = list(base_packages)
        self._python = python or sys.executable
        self._envs = EnvironmentCache(self.layout.envs_dir)
        self._uv_version: str | None = None
        self._containment = containment
        self._scope = scope_of(root)
        self._builds = RunningBuilds()
        self._uv_cache_dir: Path | None = None

    def start(self, job: BuildJob) -> str:
        self.slots.take()
        try:
            return self._start(job)
        except BaseException:
            self.slots.give_back()
            raise

    def _start(self, job: BuildJob) -> str:
        build_id = secrets.token_hex(8)
        # Created now, so logs() knows the build even before its thread writes a line.
        self.layout.builds_dir.mkdir(parents=True, exist_ok=True)
        self.layout.build_log(build_id).touch()
        scope = Scope(self._containment, f"{self._scope}/build-{build_id}")
        thread = threading.Thread(
            target=self._run, args=(build_id, job, scope), name=f"build-{build_id}", daemon=True
        )
        self._builds.add(build_id, scope, thread)
        thread.start()
        return build_id

    def is_live(self, build_id: str) -> bool:
        """True while build `build_id` of this builder runs (a binder that crashed left
        none: its builds are not live, whatever the records say)."""
        return self._builds.is_live(build_id)

    def cancel(self, build_id: str, reason: str) -> None:
        """End build `build_id` now; it reports `reason` as its failure. Idempotent."""
        self._builds.cancel(build_id, reason)

    def close(self, timeout: float = 5.0) -> None:
        """Start no more builds, cancel those that run, and wait up to `timeout` seconds for
        them to report."""
        self._builds.close(timeout)

    def _uv_cache(self) -> Path:
        if self._uv_cache_dir is None:
            self._uv_cache_dir = uv_cache_dir(self._uv, self._tool_env)
        return self._uv_cache_dir

    def logs(self, build_id: str, cursor: str | None = None) -> LogChunk:
        if not _BUILD_ID.fullmatch(build_id):  # never let an id become a path
            return LogChunk(lines=[], cursor=cursor)
        return read_lines(self.layout.build_log(build_id), cursor)

    def info(self) -> dict[str, object]:
        if self._uv_version is None:
            try:
                answer = subprocess.run(
                    [self._uv, "--version"], capture_output=True, text=True, timeout=30, check=True
                )
                # "uv 0.13.9 (x86_64-unknown-linux-gnu)" -> "uv 0.13.9"
                self._uv_version = " ".join(answer.stdout.split()[:2]) or "uv"
            except (OSError, subprocess.SubprocessError):
                return {"builder": "skybinder-venv", "build_image": "uv (not found)"}
        return {"builder": "skybinder-venv", "build_image": self._uv_version}

    def _run(self, build_id: str, job: BuildJob, scope: Scope) -> None:
        ok, reason = False, UNEXPECTED
        try:
            with BuildLog(self.layout.build_log(build_id)) as build_log:
                ok, reason = self._build_logged(build_id, job, build_log, scope)
        except Exception:
            log.exception("build %s of %s could not keep its log", build_id, job.image_name)
        finally:
            self._builds.remove(build_id)
            self.slots.give_back()  # first: the news of its end may start a queued build at once
            try:
                self._on_finished(job.image_name, ok, "" if ok else reason, build_id)
            except Exception:
                log.exception("on_finished for build %s of %s failed", build_id, job.image_name)

    def _build_logged(
        self, build_id: str, job: BuildJob, build_log: BuildLog, scope: Scope
    ) -> tuple[bool, str]:
        tmp = self.layout.root / "tmp" / f"build-{build_id}"
        try:
            tmp.mkdir(parents=True)
            self._build(build_id, job, build_log, Build(scope, tmp))
        except BuildError as err:
            reason = scope.cancelled or err.message  # a cancelled step fails for that reason
        except Exception:
            log.exception("build %s of %s failed unexpectedly", build_id, job.image_name)
            reason = scope.cancelled or UNEXPECTED
        else:
            return True, ""
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        build_log.emit(FAILED, reason)
        return False, reason

    def _build(self, build_id: str, job: BuildJob, build_log: BuildLog, build: Build) -> None:
        def fetching(line: str) -> None:
            build_log.emit(FETCHING, line)

        def building(line: str) -> None:
            build_log.emit(BUILDING, line)

        name = job.image_name
        lock = self.layout.image_lock(name)
        with exclusive_lock(lock, lambda: building(f"Waiting for another build of {name}")):
            existing = self.layout.load(name)
            if existing is not None and is_launchable(existing):
                building(f"{name} is already built")
                return
            image_dir = self.layout.image_dir(name)
            image_dir.mkdir(parents=True, exist_ok=True)
            # Next to its final place, so moving it there is a rename on one file system.
            checkout = image_dir / f"source.tmp-{secrets.token_hex(4)}"
            try:
                if self._data is not None and self._data.handles(job.provider):
                    self._data.fetch(job, checkout, fetching)
                else:
                    fetch(job.repo_url, job.ref, checkout, fetching, build.scope)
                image = self._prepare(build_id, job, checkout, building, build)
            finally:
                shutil.rmtree(checkout, ignore_errors=True)
                with contextlib.suppress(OSError):
                    image_dir.rmdir()  # only when empty: a failed build leaves no trace
            self.layout.save(image)
        building(f"Built environment for {name}")

    def _prepare(
        self, build_id: str, job: BuildJob, checkout: Path, say: Callable[[str], None], run: Build
    ) -> LocalImage:
        inputs = detect_inputs(checkout)
        say(describe(inputs))
        if inputs.requirements is not None:
            check_requirements(checkout, inputs.requirements, self._guard)
        python = find_python(self._uv, inputs, self._python, self._tool_env)
        say(f"Using Python {python.version} ({python.path})")
        key = env_key(
            python=python.real_path,
            python_version=python.version,
            base_packages=self._base_packages,
            repo_dir=checkout,
            inputs=inputs,
            repo_url=job.repo_url,
            ref=job.ref,
        )

        def build(bundle: EnvBundle) -> None:
            self._fill(bundle, checkout, inputs, python, say, run)

        built_from = f"{job.repo_url}@{job.ref[:12]}"
        bundle, _ = self._envs.ensure(key, build, say, built_from)
        source = self._place_source(job.image_name, inputs, bundle, checkout)
        start = source / inputs.start if inputs.start is not None else None
        if start is not None:
            # repo2docker makes `start` executable too; git may not have kept the bit.
            start.chmod(start.stat().st_mode | 0o111)
        return LocalImage(
            name=job.image_name,
            repo_url=job.repo_url,
            ref=job.ref,
            env=str(bundle.venv),
            python=str(bundle.python),
            source=str(source),
            start=str(start) if start is not None else None,
            env_key=key,
            build_id=build_id,
            built_at=time.time(),
        )

    def _place_source(
        self, image_name: str, inputs: RepoInputs, bundle: EnvBundle, checkout: Path
    ) -> Path:
        """Where the image's checkout lives from now on."""
        if inputs.uses_repo_files:
            # The environment refers to (editable installs) or changed (postBuild) its own copy.
            return bundle.source
        source = self.layout.image_dir(image_name) / "source"
        shutil.rmtree(source, ignore_errors=True)  # left by an earlier, unfinished build
        checkout.rename(source)
        return source

    def _fill(
        self,
        bundle: EnvBundle,
        checkout: Path,
        inputs: RepoInputs,
        python: Interpreter,
        say: Callable[[str], None],
        run: Build,
    ) -> None:
        repo = checkout
        if inputs.uses_repo_files:
            # Moved before installing: editable installs and postBuild must see the final path.
            checkout.rename(bundle.source)
            repo = bundle.source
        step = run.step(self.layout.root, writable=(bundle.dir, repo, self._uv_cache()))
        create_venv(self._uv, python, bundle.venv, say, step, self._tool_env)
        install_packages(
            self._uv, bundle.venv, repo, inputs, self._base_packages, say, step, self._tool_env
        )
        if inputs.post_build is not None:
            env = repository_environment(
                venv=bundle.venv,
                repo_dir=repo,
                pass_env=self._pass_env,
                environ=self._environ,
                extra={"UV_PYTHON_DOWNLOADS": "never"},
            )
            run_post_build(repo, inputs.post_build, bundle.venv, say, step, env)
