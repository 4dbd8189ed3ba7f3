"""What a repository's requirements files may point the builder at.

uv reads every file a requirements file names (`-r`, `-c`, `-e`, local paths, `file:` URLs)
and fetches from every index it names. A repository chosen by a link must not make the builder
read the user's files (`-r ../../../admin-token`, then sent to an index it names) or reach the
user's network (`--index-url http://192.168.1.1/`). So before uv runs, every file reference
must resolve inside the checkout, and every URL's host must be on the public internet (the
SSRF guard's rules: domain/addresses.py). A refusal names the file and quotes only the
offending line, never a file's contents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from skybinder.adapters.providers.guard import UrlGuard
from skybinder.domain.errors import BuildError, ResolveError, UnsafeUrlError

FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")
PATH_OPTIONS = ("-e", "--editable")
URL_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links")
MAX_FILES = 50  # requirements files reached through -r / -c, at most
SHOWN = 200  # characters of an offending line quoted in a message
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_VCS = re.compile(r"^(?:git|hg|svn|bzr)\+", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    """Something one line of a requirements file points at."""

    kind: str  # "requirements" (a file uv reads as one), "path" or "url"
    value: str
    line_no: int
    line: str


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) of each line, continuations joined, comments cut."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = re.split(r"(?:^|\s)#", pending + raw, maxsplit=1)[0].strip()
        pending = ""
        if line:
            yield start, line
    if pending.strip():
        yield start, pending.strip()


def references(text: str) -> Iterator[Reference]:
    """Every file, path and URL the lines of a requirements file point at."""
    for number, line in logical_lines(text):
        tokens = line.split()
        i = 0
        while i < len(tokens):
            token = tokens[i]
            option, value, used = _option(token, tokens[i + 1] if i + 1 < len(tokens) else "")
            i += used
            if option in FILE_OPTIONS:
                yield Reference("requirements", value, number, line)
            elif option in URL_OPTIONS or option in PATH_OPTIONS:
                yield _target(value, number, line)
            elif option is None and i - used == 0:
                yield from _requirement(line, number)


def _option(token: str, following: str) -> tuple[str | None, str, int]:
    """(option, its value, tokens used) for an option token, or (None, "", 1)."""
    for option in (*FILE_OPTIONS, *PATH_OPTIONS, *URL_OPTIONS):
        if token == option:
            return option, following, 2
        if option.startswith("--") and token.startswith(option + "="):
            return option, token[len(option) + 1 :], 1
        if not option.startswith("--") and token.startswith(option) and len(token) > 2:
            return option, token[2:], 1  # -rfile, -ihttps://...
    return None, "", 1


def _requirement(line: str, number: int) -> Iterator[Reference]:
    """A requirement line: a local path, a URL, or a name with `name @ url`."""
    first = line.split()[0]
    if " @ " in line:
        yield _target(line.split(" @ ", 1)[1].split()[0].split(";")[0], number, line)
    elif first.startswith((".", "/", "~", "file:")) or _SCHEME.match(first) or _VCS.match(first):
        yield _target(first.split(";")[0], number, line)


def _target(value: str, number: int, line: str) -> Reference:
    """A path or a URL (`file:` URLs are paths)."""
    plain = _VCS.sub("", value)
    if plain.lower().startswith("file:"):
        return Reference("path", unquote(urlsplit(plain).path), number, line)
    if _SCHEME.match(plain):
        return Reference("url", plain, number, line)
    return Reference("path", value, number, line)


def check_requirements(repo: Path, requirements: Path, guard: UrlGuard) -> None:
    """Raise BuildError unless every file `repo/requirements` (and the requirements files it
    names, in turn) points at is inside `repo`, and every URL is on the public internet."""
    root = repo.resolve()
    queue, seen = [requirements], set[Path]()
    while queue and len(seen) < MAX_FILES:
        relative = queue.pop()
        path = (repo / relative).resolve()
        if path in seen:
            continue
        seen.add(path)
        for ref in references(path.read_text(errors="replace")):
            where = f"{relative.as_posix()} line {ref.line_no}"
            if ref.kind == "url":
                _check_url(ref, where, guard)
                continue
            target = _inside(root, relative.parent, ref, where)
            if ref.kind == "requirements" and target.is_file():
                queue.append(target.relative_to(root))


def _inside(root: Path, base: Path, ref: Reference, where: str) -> Path:
    """The file `ref` names, when it is inside `root` however it is read: relative to the
    requirements file (pip's rule for -r) and to the repository root (uv's working directory
    here); BuildError otherwise."""
    value = ref.value
    found = [(root / base / value).resolve(), (root / value).resolve()]
    if value.startswith("~") or any(not p.is_relative_to(root) for p in found):
        raise BuildError(
            f"{where} points outside the repository: {_shown(ref.line)}. The builder reads "
            "only files inside the repository; refer to files in it with relative paths."
        )
    return found[0]


def _check_url(ref: Reference, where: str, guard: UrlGuard) -> None:
    try:
        guard.check(ref.value, ("http", "https", "git", "ssh"))
    except UnsafeUrlError:
        raise BuildError(
            f"{where} points the builder at an address it does not fetch from: "
            f"{_shown(ref.line)}. The builder fetches only http(s), git and ssh URLs of hosts "
            "on the public internet, never the local network or this machine."
        ) from None
    except ResolveError:
        pass  # a name without an address: uv says so, and reaches nothing


def _shown(line: str) -> str:
    return line if len(line) <= SHOWN else line[: SHOWN - 1] + "…"
