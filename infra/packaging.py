"""Lambda packages, built deterministically for the Lambda platform: unchanged code, unchanged zip.

Three kinds of artifacts per deployment:
- a layer with skybinder's locked runtime dependencies (from uv.lock), installed from wheels
  built for Linux on the functions' architecture and Python, never for the machine running
  `pulumi up`; cached by what determines it, so it is built once per lock change;
- one small zip per function: its entry point (functions/<name>/) at the root, plus skybinder;
- the session proxy's package: the same dependencies, built for the proxy's architecture, with
  skybinder beside them under `python/`, which the proxy's container fetches from S3 at start.
Entries are sorted and carry fixed timestamps and modes, so the bytes (and the hash Pulumi
compares) depend on the contents alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.12"
RUNTIME = "python3.12"
# Dependencies of the local mode and the command line only (the local builder, the SQLite
# store's cryptography, the CLI and `skybinder check`'s WebSocket client): not in the layer.
LOCAL_ONLY = ("uv", "typer", "rich", "cryptography", "websockets")
# The optional dependencies (pyproject.toml) `tracing: true` adds: what powertools' Tracer
# imports (the X-Ray SDK). Without them the functions' tracer records nothing.
TRACING_EXTRA = "tracing"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# Part of every cache key: a change to how packages are built rebuilds them.
FORMAT = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
# Cached packages of older code are deleted once unused this long (seconds).
STALE_AFTER = 7 * 24 * 3600


class PackagingError(RuntimeError):
    """The Lambda package could not be built; the message says what to install or fix."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str  # base64, as Lambda's source_code_hash expects

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def hexdigest(self) -> str:
        """The same SHA-256 in hex, as `sha256sum` and hashlib print it."""
        return base64.b64decode(self.sha256).hex()


def cache_dir() -> Path:
    configured = os.environ.get("SKYBINDER_BUILD_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "skybinder" / "lambda"


def python_platform(arch: str) -> str:
    """uv's name for Lambda's Linux on `arch` (manylinux2014 wheels run on Amazon Linux 2023)."""
    return {"arm64": "aarch64-manylinux2014", "x86_64": "x86_64-manylinux2014"}[arch]


def locked_requirements(root: Path = ROOT, *, tracing: bool = False) -> str:
    """The runtime dependencies pinned (with hashes) by uv.lock, without the local-only ones;
    with `tracing`, also what X-Ray tracing needs."""
    command = [
        _uv(),
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
        "--format",
        "requirements.txt",
        "--project",
        str(root),
    ]
    for package in LOCAL_ONLY:
        command += ["--prune", package]
    if tracing:
        command += ["--extra", TRACING_EXTRA]
    return _run(command, "export the locked dependencies").stdout


def dependencies_layer(
    arch: str,
    root: Path = ROOT,
    cache: Path | None = None,
    python: str = PYTHON,
    *,
    tracing: bool = False,
) -> Artifact:
    """The layer zip (`python/...`), built once per (lock, architecture, Python, extras)."""
    requirements = locked_requirements(root, tracing=tracing)
    key = _digest([FORMAT, arch, python, requirements])
    target = (cache or cache_dir()) / f"layer-{arch}-py{python}-{key[:16]}.zip"
    if not target.exists():
        with tempfile.TemporaryDirectory(prefix="skybinder-layer-") as work:
            site = Path(work) / "python"
            listing = Path(work) / "requirements.txt"
            listing.write_text(requirements, encoding="utf-8")
            _run(
                [
                    _uv(),
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(site),
                    "--no-deps",
                    "--require-hashes",
                    "--only-binary",
                    ":all:",
                    "--no-compile",
                    "--python-platform",
                    python_platform(arch),
                    "--python-version",
                    python,
                    "-r",
                    str(listing),
                ],
                f"install the dependencies for Lambda ({arch})",
            )
            # Console scripts carry this machine's interpreter path: not for Lambda. Their
            # hashes in RECORD depend on that path too, so they go from there as well.
            shutil.rmtree(site / "bin", ignore_errors=True)
            _drop_scripts_from_records(site)
            _write(target, _tree(site, "python"))
    return _artifact(target)


def function_archive(function: str, root: Path = ROOT, cache: Path | None = None) -> Artifact:
    """functions/<function>/ at the zip's root, plus the skybinder package."""
    entry = root / "functions" / function
    if not entry.is_dir():
        raise PackagingError(f"There is no functions/{function}/ under {root}: nothing to deploy.")
    entries = sorted([*_tree(entry, ""), *_tree(root / "skybinder", "skybinder")])
    key = _digest([FORMAT, *(f"{name}:{_file_digest(path)}" for name, path in entries)])
    target = (cache or cache_dir()) / f"{function}-{key[:16]}.zip"
    if not target.exists():
        _write(target, entries)
    return _artifact(target)


def proxy_package(
    arch: str, root: Path = ROOT, cache: Path | None = None, python: str = PYTHON
) -> Artifact:
    """The session proxy's zip: the dependencies layer for `arch` with skybinder added under
    `python/`, so that `PYTHONPATH=<unpacked>/python python -m skybinder.proxy` runs it on a
    stock Python image of the same version."""
    layer = dependencies_layer(arch, root, cache, python)
    entries = sorted(_tree(root / "skybinder", "python/skybinder"))
    parts = [FORMAT, "proxy", layer.sha256, *(f"{n}:{_file_digest(p)}" for n, p in entries)]
    target = (cache or cache_dir()) / f"proxy-{arch}-py{python}-{_digest(parts)[:16]}.zip"
    if not target.exists():
        with zipfile.ZipFile(layer.path) as dependencies, tempfile.TemporaryDirectory() as work:
            dependencies.extractall(work)  # the layer's own entries: trusted, made above
            for info in dependencies.infolist():
                if info.external_attr >> 16 & 0o111:  # extractall drops the exec bits
                    os.chmod(Path(work, info.filename), 0o755)
            merged = [*_tree(Path(work), ""), *entries]
            _write(target, merged)
    return _artifact(target)


def _drop_scripts_from_records(site: Path) -> None:
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        record.write_text("".join(x for x in lines if not x.startswith("bin/")), encoding="utf-8")


def _tree(base: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(base)
        if path.is_dir() or SKIPPED_PARTS & set(relative.parts):
            continue
        if path.suffix in SKIPPED_SUFFIXES:
            continue
        yield (f"{prefix}/{relative.as_posix()}" if prefix else relative.as_posix()), path


def _write(target: Path, entries: Iterable[tuple[str, Path]]) -> None:
    """A zip whose bytes depend only on the names, contents and exec bits of `entries`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever builds it
            archive.writestr(info, path.read_bytes())
    partial.replace(target)  # atomic: a concurrent build never sees half a zip
    _prune(target)


def _prune(target: Path) -> None:
    """Forget packages of the same kind that no build has used for a week."""
    kind = target.name.rsplit("-", 1)[0]
    for old in target.parent.glob(f"{kind}-*.zip"):
        if old != target and time.time() - old.stat().st_mtime > STALE_AFTER:
            old.unlink(missing_ok=True)


def _artifact(path: Path) -> Artifact:
    path.touch()  # in use: keeps it from being pruned
    digest = hashlib.sha256(path.read_bytes()).digest()
    return Artifact(path=path, sha256=base64.b64encode(digest).decode())


def _digest(parts: Iterable[str]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def _file_digest(path: Path) -> str:
    mode = "x" if os.access(path, os.X_OK) else "-"
    return mode + hashlib.sha256(path.read_bytes()).hexdigest()


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise PackagingError(
            "uv is needed to build the Lambda package and was not found. Install it "
            "(pip install uv) or run Pulumi with the uv toolchain, as Pulumi.yaml sets."
        )
    return found


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(
            f"Could not {what}: {' '.join(command[:3])} exited with {result.returncode}.\n"
            f"{result.stderr.strip()[-2000:]}\nCheck that uv.lock is current (uv lock) "
            "and that PyPI is reachable."
        )
    return result
