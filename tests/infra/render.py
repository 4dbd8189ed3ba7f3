"""The Pulumi program rendered under mocks, once per configuration, cached on disk.

Rendering takes seconds (the program imports pulumi-aws and packages the functions), so each
result is kept in the system's temporary directory under a key made of the configuration, the
stack and the contents of every file that can change it (infra/, the names module, the mocks);
a change to any of them renders again. Subprocesses (a test's uvicorn, a second pytest) reuse
the same results. `render_all` renders several configurations in parallel.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.infra.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
INPUTS = (
    *sorted((ROOT / "infra").glob("*.py")),
    ROOT / "skybinder" / "adapters" / "aws" / "names.py",
    ROOT / "images" / "builder" / "buildspec.yml",
    ROOT / "images" / "proxy" / "boot.py",
    ROOT / "tests" / "infra" / "mocks.py",
    ROOT / "tests" / "infra" / "program.py",
)
CACHE = Path(tempfile.gettempdir()) / "skybinder-rendered"
Config = Mapping[str, Any]
_memory: dict[str, Deployment] = {}


def render(config: Config | None = None, stack: str = "dev") -> Deployment:
    """The program's resources and outputs with `config` on stack `stack`."""
    return render_all({"": (config or {}, stack)})[""]


def render_all(wanted: Mapping[str, tuple[Config, str]]) -> dict[str, Deployment]:
    """Several renderings at once: name -> (config, stack); the missing ones in parallel."""
    keys = {name: _key(config, stack) for name, (config, stack) in wanted.items()}
    running = {}
    for name, (config, stack) in wanted.items():
        key = keys[name]
        if key in _memory or _path(key).exists():
            continue
        target = _path(key).with_suffix(f".{os.getpid()}.partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.infra.program", json.dumps(config), str(target)]
        process = subprocess.Popen(
            [*command, stack],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_environment(),
        )
        running[name] = (process, target, key)
    for name, (process, target, key) in running.items():
        output, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise AssertionError(f"the program failed with {wanted[name]}:\n{output}")
        target.replace(_path(key))  # atomic: a concurrent reader never sees half a file
    results = {}
    for name, key in keys.items():
        if key not in _memory:
            _memory[key] = Deployment(json.loads(_path(key).read_text(encoding="utf-8")))
        results[name] = _memory[key]
    return results


def _key(config: Config, stack: str) -> str:
    digest = hashlib.sha256(json.dumps([config, stack], sort_keys=True).encode())
    for path in INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _path(key: str) -> Path:
    return CACHE / f"{key}.json"


def _environment() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}
