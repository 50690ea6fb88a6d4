"""`project.files_under` lists what rglob + is_file + confined list, with fewer resolves."""

from __future__ import annotations

import os
from pathlib import Path

from personactl.project import confined, files_under


def _slow(folder: Path, root: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and confined(p, folder, root))


def test_links_inside_kept_links_out_and_devices_dropped(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    folder = root / "personas"
    (folder / "team" / "deep").mkdir(parents=True)
    (folder / "a.yaml").write_text("a")
    (folder / "team" / "b.yaml").write_text("b")
    (folder / "team" / "deep" / "c.yaml").write_text("c")
    (root / "outside").mkdir()
    (root / "outside" / "secret.yaml").write_text("s")
    (folder / "out.yaml").symlink_to(root / "outside" / "secret.yaml")  # leaves the folder
    (folder / "team" / "alias.yaml").symlink_to(folder / "a.yaml")  # stays inside
    (folder / "linked-dir").symlink_to(root / "outside")  # a directory link: not followed
    (folder / "dangling.yaml").symlink_to(folder / "missing.yaml")
    os.mkfifo(folder / "fifo.yaml")
    found = files_under(folder, root)
    assert found == _slow(folder, root)
    assert [p.relative_to(folder).as_posix() for p in found] == [
        "a.yaml",
        "team/alias.yaml",
        "team/b.yaml",
        "team/deep/c.yaml",
    ]


def test_a_folder_that_is_a_link_out_of_the_root_lists_nothing(tmp_path: Path) -> None:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.yaml").write_text("x")
    (root / "personas").symlink_to(tmp_path / "elsewhere")
    assert files_under(root / "personas", root) == [] == _slow(root / "personas", root)
    assert files_under(root / "missing", root) == []


def test_source_files_are_what_rglob_lists(tmp_path: Path) -> None:
    from personactl.compile.personas import source_files

    folder = tmp_path / "personas"
    for name in ("a.yaml", "b.yml", "_base.yaml", "t/c.yaml", "t/_d/e.yaml", "_x/f.yaml"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("persona: {}\n")
    (folder / "dir.yaml").mkdir()
    (folder / "dir.yaml" / "g.yaml").write_text("persona: {}\n")
    (folder / "linked.yaml").symlink_to(folder / "a.yaml")
    (folder / "linkdir").symlink_to(folder / "t")  # not entered, as rglob does not
    expected = sorted(
        p
        for p in folder.rglob("*.yaml")
        if not any(part.startswith("_") for part in p.relative_to(folder).parts)
    )
    assert source_files(folder) == expected
    assert [p.relative_to(folder).as_posix() for p in expected] == [
        "a.yaml",
        "dir.yaml",
        "dir.yaml/g.yaml",
        "linked.yaml",
        "t/c.yaml",
    ]
