"""A session's own environment layer over the shared, cached one.

Sessions of every repository whose environment is the same share one built virtual
environment. A session must not change it (one user's `pip install` would reach another
repository's sessions), so each session runs a thin virtual environment of its own:

- its `bin/python` is the shared environment's interpreter, so `sys.prefix` is the layer and
  `pip install` (in a terminal, or `%pip` in a kernel) writes into the layer;
- a `.pth` file adds the shared site-packages after the layer's own (processing the shared
  `.pth` files too), so everything built is importable and what the session installs
  shadows it, as with a virtual environment over system site-packages;
- the shared console scripts are copied with their `#!` line pointing at the layer's python,
  so `pip`, `jupyter` and friends run in the layer too;
- Jupyter's data, config and JupyterLab's application directory of the shared environment are
  named in `env()`, as they are no longer under `sys.prefix`.

Making one takes a few milliseconds: no interpreter runs, nothing is installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SCRIPT_HEAD = 512  # bytes of a script in which its interpreter is named
MAX_SCRIPT = 64 * 1024  # larger files in bin/ are programs, not console scripts: linked
PTH = "_skybinder_shared.pth"


@dataclass(frozen=True)
class Layer:
    path: Path
    shared: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def env(self) -> dict[str, str]:
        """Variables that make Jupyter find what the shared environment holds."""
        return {
            "VIRTUAL_ENV": str(self.path),
            "JUPYTER_PATH": _paths(self, "share/jupyter"),
            "JUPYTER_CONFIG_PATH": _paths(self, "etc/jupyter"),
            "JUPYTERLAB_DIR": str(self.shared / "share" / "jupyter" / "lab"),
        }


def make_layer(shared: Path, path: Path) -> Layer:
    """Create the layer of `path` over the virtual environment `shared`.

    Raises OSError (or ValueError for an environment without one site-packages) when the
    shared environment is not a virtual environment this can layer over.
    """
    site = _site_packages(shared)
    layer_site = path / site.relative_to(shared)
    layer_site.mkdir(parents=True)
    (path / "bin").mkdir()
    (path / "pyvenv.cfg").write_text(_config((shared / "pyvenv.cfg").read_text()))
    # addsitedir also runs the shared .pth files (editable installs, distutils shims).
    (layer_site / PTH).write_text(f"import site; site.addsitedir({str(site)!r})\n")
    old_python = str(shared / "bin" / "python")
    new_python = str(path / "bin" / "python")
    for entry in os.scandir(shared / "bin"):
        _copy_entry(entry, path / "bin" / entry.name, old_python, new_python)
    return Layer(path=path, shared=shared)


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise ValueError(f"{venv} has {len(found)} site-packages directories, not one")
    return found[0]


def _config(text: str) -> str:
    """The shared pyvenv.cfg, without its own system site-packages (the layer reaches the
    shared packages through the .pth file; the system's stay out, as they were)."""
    lines = [
        line
        for line in text.splitlines()
        if not line.replace(" ", "").startswith("include-system-site-packages=")
    ]
    return "\n".join([*lines, "include-system-site-packages = false", ""])


def _copy_entry(entry: os.DirEntry[str], dest: Path, old_python: str, new_python: str) -> None:
    if entry.is_symlink():
        # python, python3, python3.X: the same interpreter, found from the layer's bin/.
        dest.symlink_to(os.readlink(entry.path))
        return
    if not entry.is_file() or entry.name.startswith("activate"):
        return
    if entry.stat().st_size > MAX_SCRIPT:
        dest.symlink_to(entry.path)
        return
    with open(entry.path, "rb") as file:
        data = file.read()
    head = data[:SCRIPT_HEAD]
    if not head.startswith(b"#!") or old_python.encode() not in head:
        dest.symlink_to(entry.path)  # not a script of this environment: run it as it is
        return
    dest.write_bytes(head.replace(old_python.encode(), new_python.encode()) + data[SCRIPT_HEAD:])
    dest.chmod(0o755)


def _paths(layer: Layer, sub: str) -> str:
    return os.pathsep.join(str(root / sub) for root in (layer.path, layer.shared))
