#!/usr/bin/env python3
"""Set up and run skybinder from a checkout: `python3 dev.py serve` or `python3 dev.py test`.

Needs only Python >= 3.11 and git. It installs uv (into .tools/) when uv is not on PATH,
creates .venv from the lock file, then runs the local binder, the test suite or a benchmark
(`python3 dev.py bench`; `python3 dev.py bench mutation` for the mutation benchmark).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if code:
        sys.exit(code)


def uv() -> str:
    """The uv binary: the one on PATH, or one installed into .tools/ from PyPI."""
    found = shutil.which("uv")
    if found:
        return found
    local = TOOLS / "bin" / "uv"
    if not local.exists():
        print(f"Installing uv {UV_VERSION} into {TOOLS} ...", flush=True)
        run(sys.executable, "-m", "venv", TOOLS)
        run(TOOLS / "bin" / "python", "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    return str(local)


def sync() -> Path:
    run(uv(), "sync", "--frozen", "--quiet")
    return ROOT / ".venv" / "bin"


# Debian packages the tests need, by the command each provides: chromium for the browser
# tests, bubblewrap for the tests of the local binder's process containers.
SYSTEM_PACKAGES = {"chromium": "chromium", "bwrap": "bubblewrap"}


def under_ci() -> bool:
    """True under CI (CI=true), where a test layer that cannot run must fail the run."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def system_packages() -> None:
    """Install the Debian packages the tests need that are missing, when we may install them.

    Playwright's own browser downloads are not used: the tests start the system's chromium.
    Without a package its tests skip, saying how to install it; under CI=true the test
    command stops here instead, saying why.
    """
    missing = [package for command, package in SYSTEM_PACKAGES.items() if not shutil.which(command)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return cannot_install(missing, "installing needs root and apt-get")
    print(f"Installing {', '.join(missing)} for the tests ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        if subprocess.call(cmd, env=env) != 0:
            return cannot_install(missing, f"`{' '.join(cmd)}` failed")
    still = [package for command, package in SYSTEM_PACKAGES.items() if not shutil.which(command)]
    if still:
        cannot_install(still, "apt-get installed no such command")


def cannot_install(packages: list[str], why: str) -> None:
    names = ", ".join(packages)
    if under_ci():
        sys.exit(f"Could not install {names} ({why}): under CI their tests must run.")
    print(f"Could not install {names} ({why}): their tests will be skipped.", flush=True)


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "serve":
        bin_dir = sync()
        os.execv(bin_dir / "skybinder", ["skybinder", "serve", *rest])
    elif command == "test":
        bin_dir = sync()
        code = ("skybinder", "tests", "bench", "functions", "infra", "images", "dev.py")
        run(bin_dir / "ruff", "check", *code)
        run(bin_dir / "ruff", "format", "--check", *code)
        run(bin_dir / "mypy")
        system_packages()
        run(bin_dir / "pytest", "-q", "-ra", *rest)
    elif command == "bench" and rest[:1] == ["mutation"]:
        bin_dir = sync()
        run(bin_dir / "python", "-m", "bench.mutation", *rest[1:])
    elif command == "bench":
        bin_dir = sync()
        run(bin_dir / "python", "-m", "bench.launch_cached", *rest)
        run(bin_dir / "python", "-m", "bench.proxy_latency")
        run(bin_dir / "python", "-m", "bench.proxy_websockets")
        run(bin_dir / "python", "-m", "bench.workshop", "--quiet")
        run(bin_dir / "python", "-m", "bench.cloud_rehearsal")
    else:
        print(__doc__)
        print(
            "Commands: serve [skybinder serve options] | test [pytest options] | bench"
            " | bench mutation [--module PATH]"
        )
        sys.exit(0 if command in {"help", "-h", "--help"} else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
