"""The Lambda packages: built for the Lambda platform, deterministic, well under the limit."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from infra import packaging

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_LIMIT = 250 * 1024 * 1024  # unzipped function + layers
ADAPTER_LAYER = 10 * 1024 * 1024  # the Lambda Web Adapter layer, generously


@pytest.fixture(scope="module")
def layer() -> packaging.Artifact:
    return packaging.dependencies_layer("arm64")  # cached between runs


def _unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_the_layer_holds_the_runtime_dependencies_for_lambda(layer: packaging.Artifact) -> None:
    names = _names(layer.path)
    assert all(name.startswith("python/") for name in names)
    tops = {name.split("/")[1] for name in names}
    assert {
        "fastapi",
        "uvicorn",
        "httpx",
        "pydantic",
        "boto3",
        "jwt",
        "aws_lambda_powertools",
    } <= tops
    # Local-only dependencies stay out: uv alone is tens of megabytes.
    assert not tops & {"uv", "typer", "rich", "bin"}
    compiled = [n for n in names if n.startswith("python/pydantic_core/") and n.endswith(".so")]
    assert compiled and all("cpython-312-aarch64-linux-gnu" in n for n in compiled)


def test_the_layer_is_built_once_per_lock(layer: packaging.Artifact) -> None:
    inode = layer.path.stat().st_ino  # a rebuild would replace the file
    again = packaging.dependencies_layer("arm64")
    assert again == layer and again.path.stat().st_ino == inode


def test_a_fresh_build_of_the_layer_gives_the_same_bytes(
    layer: packaging.Artifact, tmp_path: Path
) -> None:
    again = packaging.dependencies_layer("arm64", cache=tmp_path)
    assert again.path != layer.path
    assert again.sha256 == layer.sha256


def test_the_layer_holds_nothing_that_names_the_building_machine(layer: packaging.Artifact) -> None:
    # Console scripts (and their RECORD hashes) embed the builder's interpreter path, so a
    # layer built from another checkout would differ: none of them may be in it.
    with zipfile.ZipFile(layer.path) as archive:
        names = archive.namelist()
        records = [archive.read(n).decode() for n in names if n.endswith(".dist-info/RECORD")]
    assert records and not any(n.startswith("python/bin/") for n in names)
    assert not any(line.startswith("bin/") for r in records for line in r.splitlines())


def test_each_function_is_well_under_lambdas_size_limit(layer: packaging.Artifact) -> None:
    for function in ("launch", "build", "reap"):
        code = packaging.function_archive(function)
        total = _unzipped(layer.path) + _unzipped(code.path) + ADAPTER_LAYER
        assert total < LAMBDA_LIMIT * 0.6, f"{function}: {total / 2**20:.0f} MiB unzipped"


def test_a_function_zip_has_its_entry_point_at_the_root_and_skybinder(tmp_path: Path) -> None:
    launch = packaging.function_archive("launch", cache=tmp_path)
    with zipfile.ZipFile(launch.path) as archive:
        names = archive.namelist()
        run = archive.getinfo("run.sh")
        assert (run.external_attr >> 16) & 0o111, "run.sh must be executable"
    assert "skybinder/__init__.py" in names
    assert "skybinder/api/app.py" in names
    assert "skybinder/adapters/providers/dataverse_hosts.json" in names  # data files too
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    build = packaging.function_archive("build", cache=tmp_path)
    assert "handler.py" in _names(build.path)


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "functions" / "reap").mkdir(parents=True)
    (root / "functions" / "reap" / "handler.py").write_text("def handler(event, context):\n")
    shutil.copytree(
        ROOT / "skybinder", root / "skybinder", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def test_unchanged_code_gives_the_same_bytes(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    first = packaging.function_archive("reap", root=root, cache=tmp_path / "a")
    for path in (root / "skybinder").rglob("*.py"):
        path.touch()  # new modification times, same contents
    second = packaging.function_archive("reap", root=root, cache=tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_changed_code_gives_a_new_package(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    first = packaging.function_archive("reap", root=root, cache=tmp_path / "cache")
    handler = root / "functions" / "reap" / "handler.py"
    handler.write_text(handler.read_text() + "    return None\n")
    second = packaging.function_archive("reap", root=root, cache=tmp_path / "cache")
    assert first.sha256 != second.sha256
    handler.chmod(0o755)  # the exec bit is part of what Lambda gets
    third = packaging.function_archive("reap", root=root, cache=tmp_path / "cache")
    assert third.sha256 != second.sha256


def test_a_missing_function_says_so(tmp_path: Path) -> None:
    with pytest.raises(packaging.PackagingError, match="functions/nope"):
        packaging.function_archive("nope", root=tmp_path)


def test_packages_unused_for_a_week_are_pruned(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    stale, recent, other = cache / "reap-0000.zip", cache / "reap-1111.zip", cache / "build-0.zip"
    for path in (stale, recent, other):
        path.write_bytes(b"old")
    week_ago = time.time() - packaging.STALE_AFTER - 60
    os.utime(stale, (week_ago, week_ago))
    os.utime(other, (week_ago, week_ago))
    packaging.function_archive("reap", root=root, cache=cache)
    assert not stale.exists()
    assert recent.exists() and other.exists()  # in use lately / another function's
