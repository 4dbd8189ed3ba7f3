"""Local images on disk: the data-dir layout, the image.json record, and the ImageRegistry."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

IMAGE_FILE = "image.json"
# Characters kept as they are in directory names; everything else is escaped as +XX.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MAX_DIR_NAME = 200  # file systems allow 255 bytes; leave room for ".lock" and temp suffixes


class LocalImage(BaseModel):
    """What image.json records about a built local image (the runner's view of it).

    The runner starts `python -m jupyter ...` from `env`, in a fresh copy of `source`, and runs
    `start` (a path inside `source`; None when the repository has no start script).
    """

    name: str
    repo_url: str
    ref: str
    # Absolute paths, as strings.
    env: str  # the virtual environment (its bin/ goes first on PATH)
    python: str  # the environment's interpreter
    source: str  # the repository checkout, after postBuild; copy it, never run in it
    start: str | None = None
    env_key: str = ""
    build_id: str = ""
    built_at: float = 0.0


def safe_dir_name(image_name: str) -> str:
    """A directory name for `image_name`: one-to-one, and never `.`, `..` or a path.

    Bytes outside [A-Za-z0-9._-] (such as the `:` before the tag and any `/`) become `+XX`,
    as does a leading `.`. Overlong names are cut and suffixed with a hash after a `~`, which
    escaping never produces, so they cannot collide with an uncut name.
    """
    escaped = "".join(
        chr(byte) if chr(byte) in _SAFE and not (i == 0 and byte == ord(".")) else f"+{byte:02x}"
        for i, byte in enumerate(image_name.encode("utf-8"))
    )
    if not escaped:
        raise ValueError("an image name must not be empty")
    if len(escaped) <= _MAX_DIR_NAME:
        return escaped
    digest = hashlib.sha256(image_name.encode("utf-8")).hexdigest()[:32]
    return f"{escaped[: _MAX_DIR_NAME - 33]}~{digest}"


class ImageLayout:
    """Where things live under the data dir `root`.

    images/<safe name>/image.json   the image record (written last: its presence means built)
    images/<safe name>/source/      the checkout, for images whose environment does not own it
    envs/<key>/                     an environment bundle: venv/, maybe source/, and .complete
    builds/<build id>.log           build logs
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images_dir = root / "images"
        self.envs_dir = root / "envs"
        self.builds_dir = root / "builds"

    def image_dir(self, image_name: str) -> Path:
        return self.images_dir / safe_dir_name(image_name)

    def image_file(self, image_name: str) -> Path:
        return self.image_dir(image_name) / IMAGE_FILE

    def image_lock(self, image_name: str) -> Path:
        return self.images_dir / f"{safe_dir_name(image_name)}.lock"

    def build_log(self, build_id: str) -> Path:
        return self.builds_dir / f"{build_id}.log"

    def load(self, image_name: str) -> LocalImage | None:
        """The image record of `image_name`, or None when it is missing or unreadable."""
        path = self.image_file(image_name)
        try:
            image = LocalImage.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as err:
            log.warning("ignoring unreadable image record %s: %s", path, err)
            return None
        return image if image.name == image_name else None

    def save(self, image: LocalImage) -> None:
        """Write the image record atomically: readers see the old state or the whole record."""
        directory = self.image_dir(image.name)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".image-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(image.model_dump_json(indent=2))
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, directory / IMAGE_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def is_launchable(image: LocalImage) -> bool:
    """True when what the record points at is still on disk."""
    return Path(image.python).is_file() and Path(image.source).is_dir()


class LocalImageRegistry:
    """ImageRegistry over the local layout: an image exists when its record and env do."""

    def __init__(self, root: Path) -> None:
        self.layout = ImageLayout(root)

    def has(self, image_name: str) -> bool:
        image = self.layout.load(image_name)
        return image is not None and is_launchable(image)
