"""The local image layout: safe directory names, image.json round trips, and the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from skybinder.adapters.local.images import (
    ImageLayout,
    LocalImage,
    LocalImageRegistry,
    safe_dir_name,
)


def test_safe_dir_name_escapes_separators() -> None:
    sha = "a" * 40
    assert safe_dir_name(f"skybinder-gh-user-repo-1a2b3c:{sha}") == (
        f"skybinder-gh-user-repo-1a2b3c+3a{sha}"
    )
    assert safe_dir_name("registry/ns/name:tag") == "registry+2fns+2fname+3atag"


@pytest.mark.parametrize("name", [".", "..", "../x", "/etc/passwd", "a/../../b", ".hidden"])
def test_safe_dir_name_never_escapes_the_images_dir(name: str) -> None:
    safe = safe_dir_name(name)
    assert "/" not in safe and not safe.startswith(".")


def test_safe_dir_name_is_one_to_one() -> None:
    names = ["a:b", "a_b", "a+3ab", "a/b", "a-b", "a:b:", "é", "+"]
    assert len({safe_dir_name(name) for name in names}) == len(names)


def test_long_names_are_cut_with_a_hash() -> None:
    one, two = safe_dir_name("x" * 300 + "1"), safe_dir_name("x" * 300 + "2")
    assert one != two and len(one) <= 200 and len(two) <= 200


def test_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        safe_dir_name("")


def make_image(root: Path, name: str = "img:1") -> LocalImage:
    env = root / "envs" / "k" / "venv"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("")
    source = root / "images" / "src"
    source.mkdir(parents=True)
    return LocalImage(
        name=name,
        repo_url="https://example.org/r.git",
        ref="1",
        env=str(env),
        python=str(env / "bin" / "python"),
        source=str(source),
    )


def test_save_then_load(tmp_path: Path) -> None:
    layout = ImageLayout(tmp_path)
    image = make_image(tmp_path)
    assert layout.load(image.name) is None
    layout.save(image)
    assert layout.load(image.name) == image
    assert [p.name for p in layout.image_dir(image.name).iterdir()] == ["image.json"]
    assert LocalImageRegistry(tmp_path).has(image.name)


def test_registry_needs_the_environment(tmp_path: Path) -> None:
    image = make_image(tmp_path)
    ImageLayout(tmp_path).save(image)
    Path(image.python).unlink()
    assert not LocalImageRegistry(tmp_path).has(image.name)


def test_unreadable_or_foreign_records_are_ignored(tmp_path: Path) -> None:
    layout = ImageLayout(tmp_path)
    layout.save(make_image(tmp_path, "img:1"))
    layout.image_file("img:1").write_text("{not json")
    assert layout.load("img:1") is None
    assert not LocalImageRegistry(tmp_path).has("img:1")
    # A record copied under another image's directory does not count for that image.
    other = layout.image_file("img:2")
    other.parent.mkdir()
    other.write_text(make_image(tmp_path / "x", "img:1").model_dump_json())
    assert layout.load("img:2") is None
