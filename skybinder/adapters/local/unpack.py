"""Safe paths and zip unpacking for downloaded data records, following repo2docker's rules."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from skybinder.adapters.providers.safe_http import size_text
from skybinder.domain.errors import BuildError

CHUNK = 1024 * 1024


def safe_path(root: Path, relative: str) -> Path:
    """`root / relative`, refusing names that would land outside `root` ("..", absolute paths).

    Names come from a provider's API or from inside a zip file: both are someone else's input.
    """
    parts = [part for part in PurePosixPath(relative.replace("\\", "/")).parts if part != "."]
    if not parts or parts[0] == "/" or ".." in parts or any("\0" in part for part in parts):
        raise BuildError(
            f"The record lists a file named {relative[:100]!r}, which would be written outside "
            "the build directory. Report this to the record's owner."
        )
    return root.joinpath(*parts)


def unpack_zip(archive: Path, dest: Path, *, keep: str | None, max_bytes: int) -> int:
    """Unpack `archive` into `dest` (then delete it) and return the number of files.

    With `keep`, only the contents of that folder inside the archive are kept (HydroShare bags
    hold the resource under <id>/data/contents). As repo2docker does, an archive whose files
    all sit in one top folder (a GitHub release archive) is unpacked without that folder.
    """
    scratch = dest.parent / f"{dest.name}.unpack"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        count = _extract(archive, scratch, max_bytes)
        archive.unlink()
        _remove_empty_parents(archive.parent, dest)
        root = safe_path(scratch, keep) if keep else scratch
        if not root.is_dir():
            raise BuildError(f"The archive {archive.name} has no folder {keep}.")
        children = list(root.iterdir())
        if len(children) == 1 and children[0].is_dir():
            root = children[0]
        for child in root.iterdir():
            child.rename(safe_path(dest, child.name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return count


def _remove_empty_parents(folder: Path, root: Path) -> None:
    """Remove `folder` and its parents up to `root` while they are empty (the archive's own
    folders, e.g. Zenodo's "<user>/<repo>-v1.0.zip")."""
    while folder != root and root in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _extract(archive: Path, scratch: Path, max_bytes: int) -> int:
    try:
        with zipfile.ZipFile(archive) as opened:
            members = [m for m in opened.infolist() if not m.is_dir()]
            total = 0
            for member in members:
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue  # a link inside an archive could point anywhere on this machine
                target = safe_path(scratch, member.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with opened.open(member) as src, target.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        total += len(chunk)  # counted as read: the sizes in a zip can lie
                        if total > max_bytes:
                            raise BuildError(
                                f"{archive.name} unpacks to more than {size_text(max_bytes)}, "
                                "the most this binder unpacks."
                            )
                        out.write(chunk)
            return len(members)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise BuildError(f"{archive.name} is not a readable zip archive ({err}).") from err
