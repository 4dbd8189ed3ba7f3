"""A session's environment layer, made over a shared virtual environment's files, and the
HOME, REPO_DIR and PATH that repository code gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skybinder.adapters.local.clean_env import repo2docker_paths
from skybinder.adapters.local.session_layer import PTH, make_layer


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """The files of a virtual environment as uv makes one (its python is a symlink)."""
    venv = tmp_path / "envs" / "k" / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = true\nversion_info = 3.11.7\n"
    )
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "bin" / "python3").symlink_to("python")
    python = venv / "bin" / "python"
    (venv / "bin" / "pip").write_text(f"#!{python}\nfrom pip import main\nmain()\n")
    long_form = f"#!/bin/sh\n'''exec' '{python}' \"$0\" \"$@\"\n' '''\nfrom jupyter import main\n"
    (venv / "bin" / "jupyter").write_text(long_form)
    (venv / "bin" / "tool").write_text("#!/bin/sh\necho a shell tool\n")
    (venv / "bin" / "activate").write_text(f"VIRTUAL_ENV={venv}\n")
    return venv


def test_a_layer_is_a_virtual_environment_of_its_own_over_the_shared_one(
    shared: Path, tmp_path: Path
) -> None:
    layer = make_layer(shared, tmp_path / "session" / "env")
    path = layer.path
    config = (path / "pyvenv.cfg").read_text().splitlines()
    assert "home = /usr/bin" in config and "version_info = 3.11.7" in config
    assert [line for line in config if "system-site" in line] == [
        "include-system-site-packages = false"
    ]
    site = path / "lib" / "python3.11" / "site-packages"
    shared_site = shared / "lib" / "python3.11" / "site-packages"
    assert (site / PTH).read_text() == f"import site; site.addsitedir({str(shared_site)!r})\n"
    # The interpreter is the shared one's, found through the layer's own bin/.
    assert os.readlink(path / "bin" / "python") == "/usr/bin/python3"
    assert os.readlink(path / "bin" / "python3") == "python"
    # Console scripts run with the layer's python, in either form uv writes them.
    python = str(layer.python)
    assert (path / "bin" / "pip").read_text().startswith(f"#!{python}\n")
    assert f"'{python}'" in (path / "bin" / "jupyter").read_text()
    assert os.access(path / "bin" / "pip", os.X_OK)
    # Other programs are the shared ones; activate scripts name the shared venv: left out.
    assert os.readlink(path / "bin" / "tool") == str(shared / "bin" / "tool")
    assert not (path / "bin" / "activate").exists()
    env = layer.env()
    assert env["VIRTUAL_ENV"] == str(path)
    assert env["JUPYTER_PATH"] == f"{path}/share/jupyter:{shared}/share/jupyter"
    assert env["JUPYTER_CONFIG_PATH"] == f"{path}/etc/jupyter:{shared}/etc/jupyter"
    assert env["JUPYTERLAB_DIR"] == f"{shared}/share/jupyter/lab"


def test_the_shared_environment_is_not_touched(shared: Path, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in shared.rglob("*") if p.is_file() and not p.is_symlink()}
    make_layer(shared, tmp_path / "one")
    make_layer(shared, tmp_path / "two")
    after = {p: p.read_bytes() for p in shared.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before


def test_something_that_is_not_a_virtual_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0 site-packages"):
        make_layer(tmp_path, tmp_path / "layer")


def test_repo2docker_paths_put_local_bins_first() -> None:
    got = repo2docker_paths(Path("/w"), [Path("/layer/bin"), Path("/env/bin")], "/usr/bin:/bin")
    assert got == {
        "HOME": "/w",
        "REPO_DIR": "/w",
        # ~/.local/bin and $REPO_DIR/.local/bin are the same folder here: named once.
        "PATH": "/w/.local/bin:/layer/bin:/env/bin:/usr/bin:/bin",
    }
