"""The local binder's private files: its data directory (0700) and the secrets in it (0600).

The data directory holds live session state, the access and admin tokens and the key that
seals session tokens in the database, so no other user of the machine may read it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

TOKEN_FILE = "token"  # the access token: who may launch (README, "The local threat model")
STORE_KEY_FILE = "store-key"  # seals session tokens in the database (sqlite_store.py)
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, marker: str = "skybinder.sqlite") -> Path:
    """Create `path` (and its parents) readable by its owner only, and narrow an existing one
    that is empty or already a data directory (it holds `marker`). Any other existing folder
    keeps its mode (`--data-dir ~` must not change the home directory); its new files are
    private all the same."""
    if not path.exists():
        path.mkdir(parents=True, mode=DIR_MODE)
    if not any(path.iterdir()) or (path / marker).exists():
        path.chmod(DIR_MODE)  # an existing directory keeps its mode through mkdir
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists and only its owner may read or write it; return it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    path.chmod(FILE_MODE)  # a file created earlier, with a wider mode, is narrowed
    return path


def private_database(path: Path) -> None:
    """Make an SQLite file and the journals it has (-wal, -shm) its owner's only."""
    private_file(path)
    for journal in (path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if journal.exists():
            private_file(journal)


def write_secret(path: Path, value: str) -> None:
    """Write `value` to a new file at `path` that only its owner may read."""
    path.unlink(missing_ok=True)  # a new file, so no earlier, wider mode survives
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")


def read_secret(path: Path) -> str | None:
    """The secret in `path` (stripped), or None when the file is missing or empty."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return value or None


def access_token(data_dir: Path, given: str | None) -> str | None:
    """The access token of this run, written to `<data_dir>/token`: `given`, or a new random
    one when None. An empty `given` turns the check off (None), and removes the file."""
    path = data_dir / TOKEN_FILE
    if given is not None and not given.strip():
        path.unlink(missing_ok=True)
        return None
    token = given.strip() if given is not None else secrets.token_urlsafe(32)
    write_secret(path, token)
    return token


def store_key(data_dir: Path) -> bytes:
    """The key that seals session tokens in the database: made once, kept in a 0600 file.

    It outlives restarts (a session's sealed token stays readable while its row does), and
    the database alone, copied or leaked, holds no usable token.
    """
    path = data_dir / STORE_KEY_FILE
    existing = read_secret(path)
    if existing is not None:
        with contextlib.suppress(ValueError):
            key = bytes.fromhex(existing)
            if len(key) == 32:
                private_file(path)
                return key
    key = secrets.token_bytes(32)
    write_secret(path, key.hex())
    return key
