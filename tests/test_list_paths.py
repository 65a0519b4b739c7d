"""List entries resolve the same way in every command (``VideoList.resolve``): absolute paths,
paths relative to the ``# root:`` header (absolute or relative to the list's folder), to the
list's folder, and to ``--root``. Checked through the dataset (what pretrain / finetune /
retrieve / compare read) and ``tbe data prepare``, on a real H.264 file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tbe_lib.cli import main
from tbe_lib.data.dataset import ClipDataset
from tbe_lib.data.listfile import VideoList, list_root, read_list
from tbe_lib.data.prepare import prepare
from tbe_lib.data.samples import sample_video

CASES = ["absolute", "header-root-absolute", "header-root-relative", "list-folder", "root-argument"]


def write_case(case: str, tmp: Path) -> tuple[Path, str | None, Path]:
    """A list for ``case`` naming one video; returns (list, root argument, the file it must find)."""
    videos = tmp / "videos" / "cls"
    videos.mkdir(parents=True)
    video = Path(shutil.copy(sample_video("carphone_distorted"), videos / "carphone.mp4"))
    lists = tmp / "lists"  # never the videos' folder: a list-folder fallback would find nothing
    lists.mkdir()
    root_arg = None
    if case == "absolute":
        text = f"{video} 0\n"
    elif case == "header-root-absolute":
        text = f"# root: {tmp / 'videos'}\ncls/carphone.mp4 0\n"
    elif case == "header-root-relative":
        text = "# root: ../videos\ncls/carphone.mp4 0\n"
    elif case == "list-folder":
        shutil.copytree(tmp / "videos" / "cls", lists / "cls")
        video = lists / "cls" / "carphone.mp4"
        text = "cls/carphone.mp4 0\n"
    else:  # --root wins over the header
        text = "# root: /nonexistent\ncls/carphone.mp4 0\n"
        root_arg = str(tmp / "videos")
    lst = lists / "list.txt"
    lst.write_text(text)
    return lst, root_arg, video


@pytest.mark.parametrize("case", CASES)
def test_every_command_finds_the_same_file(case, tmp_path):
    lst, root, video = write_case(case, tmp_path)
    vl = read_list(lst, root)
    assert vl.resolve(vl.records[0]).resolve() == video.resolve()
    assert ClipDataset(lst, root=root).path(0).resolve() == video.resolve()  # pretrain, finetune, retrieve, compare
    res = prepare(lst, tmp_path / "prep", root=root, short_side=32, workers=0, progress=False)
    assert res.written == 1 and not res.bad
    out = read_list(res.list_path)
    assert out.resolve(out.records[0]).is_file()
    args = ["data", "prepare", str(lst), str(tmp_path / "prep_cli"), "--short-side", "32", "--workers", "0"]
    assert main(args + (["--root", root] if root else [])) == 0  # the command line too


def test_absolute_entries_outside_the_list_folder_are_mirrored_by_their_common_folder(tmp_path):
    """The issue's case: a list of absolute paths in another folder, no header."""
    lst, _, video = write_case("absolute", tmp_path)
    other = Path(shutil.copy(video, video.parent.parent / "other.mp4"))
    lst.write_text(f"{video} 0\n{other} 1\n")
    res = prepare(lst, tmp_path / "prep", short_side=32, workers=0, progress=False)
    assert [r.path for r in read_list(res.list_path).records] == ["cls/carphone.mp4", "other.mp4"]


def test_list_root_rules(tmp_path):
    lst = tmp_path / "a" / "list.txt"
    assert list_root(lst) == tmp_path / "a"
    assert list_root(lst, "../v") == tmp_path / "a" / "../v"
    assert list_root(lst, "/abs/v") == Path("/abs/v")
    assert list_root(lst, "/abs/v", "given") == Path("given")


def test_prepare_reads_entries_through_videolist_resolve(tmp_path, monkeypatch):
    """One function: redirect ``VideoList.resolve`` and ``tbe data prepare`` follows it."""
    lst, _, video = write_case("list-folder", tmp_path)
    moved = Path(shutil.move(video, tmp_path / "elsewhere.mp4"))
    monkeypatch.setattr(VideoList, "resolve", lambda self, record: moved)
    assert prepare(lst, tmp_path / "prep", short_side=32, workers=0, progress=False).written == 1


def test_a_missing_entry_names_the_file_the_list_and_the_root(tmp_path, capsys):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "list.txt").write_text("nothere/bikes.mp4 0\n")
    assert main(["data", "prepare", str(lists / "list.txt"), str(tmp_path / "out"), "--workers", "0"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]  # (the progress bar is on stderr too)
    assert len(err) == 1 and err[0].startswith("tbe data: error: ")
    err = err[0]
    assert f"video file not found: {lists / 'nothere/bikes.mp4'}" in err and "listed in" in err and "--root" in err
