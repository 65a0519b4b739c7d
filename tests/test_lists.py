"""List builders on tiny fake trees in each dataset's official layout (empty placeholder
files stand in for videos: only their existence matters here)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tbe_lib.data.builders import count_frames, template_regex
from tbe_lib.data.listfile import read_list
from tbe_lib.data.lists import DATASETS, ListBuildError, add_cli, build_lists


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def frames(folder: Path, n: int, template: str = "img_{:05d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (folder / template.format(i)).write_bytes(b"")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def labels_of(path: Path) -> dict[str, int]:
    return {r.path: r.label for r in read_list(path).records}


# --------------------------------------------------------------------------- UCF101
UCF_CLASSES = ["ApplyEyeMakeup", "Archery", "HandstandPushups"]


@pytest.fixture
def ucf(tmp_path: Path) -> tuple[Path, Path]:
    ann = tmp_path / "ucfTrainTestlist"
    write(ann / "classInd.txt", "".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, 1)))
    train = [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "Archery/v_Archery_g08_c01.avi 2",
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 3",
        "Archery/v_Archery_g09_c01.avi 2",
    ]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"]
    write(ann / "trainlist01.txt", "\r\n".join(train) + "\r\n")  # the official files have CRLF endings
    write(ann / "testlist01.txt", "\n".join(test) + "\n")
    write(ann / "trainlist02.txt", train[0] + "\n" + train[1] + "\n")
    write(ann / "testlist02.txt", "\n".join(test[:1] + ["Archery/v_Archery_g01_c01.avi"]) + "\n")
    root = tmp_path / "UCF-101"
    for line in train + test + ["Archery/v_Archery_g01_c01.avi"]:
        touch(root / line.split()[0])
    return ann, root


def test_ucf101_video_lists(ucf, tmp_path):
    ann, root = ucf
    out = build_lists("ucf101", ann, root, split=1, out=tmp_path / "lists")
    assert set(out) == {"train", "test", "classes"}
    train, test = read_list(out["train"]), read_list(out["test"])
    assert len(train) == 4 and len(test) == 2
    assert train.format == "video" and train.root == root.resolve()
    assert train.meta["dataset"] == "ucf101" and train.meta["split"] == "1" and train.meta["subset"] == "train"
    assert train.num_classes == 3
    assert labels_of(out["train"]) == {
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi": 0,
        "Archery/v_Archery_g08_c01.avi": 1,
        "HandstandPushups/v_HandStandPushups_g08_c01.avi": 2,
        "Archery/v_Archery_g09_c01.avi": 1,
    }
    # testlist has no label column: the label comes from the class folder
    assert labels_of(out["test"]) == {
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi": 0,
        "HandstandPushups/v_HandStandPushups_g01_c01.avi": 2,
    }
    assert out["classes"].read_text().splitlines() == UCF_CLASSES
    assert all(train.resolve(r).is_file() for r in train.records)
    # the parent of ucfTrainTestlist is accepted too; split 2 reads the *02 files
    out2 = build_lists("ucf101", ann.parent, root, split=2, out=tmp_path / "lists")
    assert out2["train"].name == "ucf101_video_train_split2.txt"
    assert labels_of(out2["test"])["Archery/v_Archery_g01_c01.avi"] == 1
    assert len(read_list(out2["train"])) == 2


def test_ucf101_flat_frames_with_template(ucf, tmp_path):
    ann, _ = ucf
    root = tmp_path / "jpegs"  # flat frame folders, the layout the paper used
    names = [
        "v_ApplyEyeMakeup_g08_c01",
        "v_Archery_g08_c01",
        "v_HandStandPushups_g08_c01",
        "v_Archery_g09_c01",
        "v_ApplyEyeMakeup_g01_c01",
        "v_HandStandPushups_g01_c01",
    ]
    for i, n in enumerate(names):
        frames(root / n, 5 + i, "image_{:05d}.jpg")
    (root / names[0] / "not_a_frame.txt").write_text("x")
    out = build_lists("ucf101", ann, root, format="frames", template="image_{:05d}.jpg", out=tmp_path / "l")
    lst = read_list(out["train"])
    assert lst.format == "frames" and lst.template == "image_{:05d}.jpg"
    got = {r.path: (r.num_frames, r.label) for r in lst.records}
    assert got == {names[0]: (5, 0), names[1]: (6, 1), names[2]: (7, 2), names[3]: (8, 1)}
    # without --template the template is detected on disk
    out = build_lists("ucf101", ann, root, format="frames", out=tmp_path / "l2")
    assert read_list(out["test"]).template == "image_{:05d}.jpg"
    assert {r.num_frames for r in read_list(out["test"]).records} == {9, 10}


def test_ucf101_errors_name_the_file(ucf, tmp_path):
    ann, root = ucf
    with pytest.raises(ListBuildError, match=r"classInd\.txt.*UCF101"):
        build_lists("ucf101", tmp_path / "nowhere", root)
    (ann / "testlist01.txt").write_text("Boxing/v_Boxing_g01_c01.avi\n")
    with pytest.raises(ListBuildError, match=r"testlist01\.txt:1: unknown class name 'Boxing'"):
        build_lists("ucf101", ann, root, out=tmp_path / "l")
    (ann / "testlist01.txt").write_text("\n")
    with pytest.raises(ListBuildError, match=r"test subset is empty in .*testlist01\.txt"):
        build_lists("ucf101", ann, root, out=tmp_path / "l")
    (ann / "trainlist01.txt").write_text("Archery/v_Archery_g08_c01.avi 1\n")
    with pytest.raises(ListBuildError, match=r"trainlist01\.txt:1: label 1 disagrees with class folder 'Archery'"):
        build_lists("ucf101", ann, root, out=tmp_path / "l")
    (ann / "trainlist01.txt").write_text("Archery/v_Archery_g08_c01.avi 2\nArchery/v_Archery_g08_c01.avi 2\n")
    with pytest.raises(ListBuildError, match=r"duplicate entry 'Archery/v_Archery_g08_c01.avi' in .*trainlist01\.txt"):
        build_lists("ucf101", ann, root, out=tmp_path / "l")
    with pytest.raises(ListBuildError, match="split 4 does not exist"):
        build_lists("ucf101", ann, root, split=4)
    assert not (tmp_path / "l").exists()  # nothing is written before every check passed


def test_missing_videos_error_or_skip(ucf, tmp_path):
    ann, root = ucf
    (root / "Archery/v_Archery_g08_c01.avi").unlink()
    (root / "Archery/v_Archery_g09_c01.avi").unlink()
    with pytest.raises(
        ListBuildError,
        match=r"2 of 4 videos of trainlist01\.txt \(train\) are missing .*"
        r"v_Archery_g08_c01\.avi.*--allow-missing",
    ):
        build_lists("ucf101", ann, root, out=tmp_path / "l")
    with pytest.warns(UserWarning, match="skipped 2 of 4 train videos"):
        out = build_lists("ucf101", ann, root, out=tmp_path / "l", allow_missing=True)
    lst = read_list(out["train"])
    assert len(lst) == 2 and lst.meta["missing"] == "2"
    assert "missing" not in read_list(out["test"]).meta


def test_other_extension_is_found(ucf, tmp_path):
    ann, root = ucf
    for p in list(root.rglob("*.avi")):  # e.g. after re-encoding to .mp4
        p.rename(p.with_suffix(".mp4"))
    out = build_lists("ucf101", ann, root, out=tmp_path / "l")
    assert all(r.path.endswith(".mp4") for r in read_list(out["train"]).records)


# --------------------------------------------------------------------------- HMDB51
def make_hmdb(tmp_path: Path, ext: str = ".avi") -> tuple[Path, Path]:
    ann = tmp_path / "testTrainMulti_7030_splits"
    root = tmp_path / "hmdb51"
    table = {  # deliberately not in alphabetical order of creation
        "wave": {"w1": 1, "w2": 2, "w3": 0},
        "brush_hair": {"b1": 1, "b2": 1, "b3": 2, "b4": 0},
        "climb": {"c1": 2, "c2": 1},
    }
    for cls, vids in table.items():
        for split in (1, 2, 3):
            write(ann / f"{cls}_test_split{split}.txt", "".join(f"{v}.avi {i} \n" for v, i in vids.items()))
        for v in vids:
            touch(root / cls / f"{v}{ext}")
    return ann, root


def test_hmdb51_lists(tmp_path):
    ann, root = make_hmdb(tmp_path)
    out = build_lists("hmdb51", ann.parent, root, split=3, out=tmp_path / "l")
    train, test = labels_of(out["train"]), labels_of(out["test"])
    # labels: class names sorted alphabetically; id 0 (unused) dropped
    assert out["classes"].read_text().splitlines() == ["brush_hair", "climb", "wave"]
    assert train == {"brush_hair/b1.avi": 0, "brush_hair/b2.avi": 0, "climb/c2.avi": 1, "wave/w1.avi": 2}
    assert test == {"brush_hair/b3.avi": 0, "climb/c1.avi": 1, "wave/w2.avi": 2}
    assert read_list(out["test"]).meta["split"] == "3"


def test_hmdb51_errors(tmp_path):
    ann, root = make_hmdb(tmp_path)
    with pytest.raises(ListBuildError, match=r"brush_hair_test_split1\.txt.*Serre"):
        build_lists("hmdb51", tmp_path / "empty_dir_that_does_not_exist", root)
    write(ann / "climb_test_split1.txt", "c1.avi 2\nc2.avi 1\nc1.avi 1\n")
    with pytest.raises(ListBuildError, match=r"duplicate entry 'c1.avi' in .*climb_test_split1\.txt \(lines 1 and 3\)"):
        build_lists("hmdb51", ann, root, out=tmp_path / "l")
    for cls in ("wave", "brush_hair", "climb"):  # no test video at all in split 2
        write(ann / f"{cls}_test_split2.txt", "x.avi 1\n" if cls == "climb" else "")
    touch(root / "climb" / "x.avi")
    with pytest.raises(ListBuildError, match=r"test subset is empty in .*_test_split2\.txt"):
        build_lists("hmdb51", ann, root, split=2, out=tmp_path / "l")
    write(ann / "climb_test_split3.txt", "c1.avi 7\n")
    with pytest.raises(ListBuildError, match=r"climb_test_split3\.txt:1: expected"):
        build_lists("hmdb51", ann, root, split=3, out=tmp_path / "l")


def test_hmdb51_variants_folder_layout(tmp_path):
    ann, _ = make_hmdb(tmp_path)
    root = tmp_path / "hmdb51_sta"
    for cls, vids in {
        "brush_hair": ["b1", "b2", "b3", "b4"],
        "climb": ["c1", "c2"],
        "wave": ["w1", "w2", "w3"],
    }.items():
        for v in vids:
            touch(root / cls / f"{v}.mp4")  # other container than the split files' .avi
    (root / "climb" / "readme.txt").write_text("not a video")
    out = build_lists("hmdb51_sta", None, root, out=tmp_path / "l")
    assert set(out) == {"all", "classes"}
    allv = labels_of(out["all"])
    assert len(allv) == 9 and allv["climb/c2.mp4"] == 1 and allv["wave/w3.mp4"] == 2
    # with the HMDB51 split files: the same train/test division as HMDB51
    out = build_lists("actor_hmdb51", ann, root, split=1, out=tmp_path / "l2")
    assert labels_of(out["test"]) == {"brush_hair/b3.mp4": 0, "climb/c1.mp4": 1, "wave/w2.mp4": 2}
    assert len(read_list(out["train"])) == 4
    # frame folders by class
    froot = tmp_path / "actor_frames"
    frames(froot / "climb" / "c1", 4)
    frames(froot / "wave" / "w1", 6)
    out = build_lists("actor_hmdb51", None, froot, format="frames", template="img_{:05d}.jpg", out=tmp_path / "l3")
    assert {(r.path, r.num_frames, r.label) for r in read_list(out["all"]).records} == {
        ("climb/c1", 4, 0),
        ("wave/w1", 6, 1),
    }


# --------------------------------------------------------------------------- Diving48
def test_diving48_json(tmp_path):
    ann = tmp_path / "ann"
    train = [
        {"vid_name": "a_00001", "label": 3, "start_frame": 0, "end_frame": 40},
        {"vid_name": "b_00002", "label": 47, "start_frame": 0, "end_frame": 50},
    ]
    test = [{"vid_name": "c_00003", "label": 0, "start_frame": 0, "end_frame": 30}]
    write(ann / "Diving48_V2_train.json", json.dumps(train))
    write(ann / "Diving48_V2_test.json", json.dumps(test))
    root = tmp_path / "rgb"
    for n in ("a_00001", "b_00002", "c_00003"):
        touch(root / f"{n}.mp4")
        frames(root / "frames" / n, 3, "image_{:05d}.jpg")
    out = build_lists("diving48", ann, root, out=tmp_path / "l")
    assert labels_of(out["train"]) == {"a_00001.mp4": 3, "b_00002.mp4": 47}
    assert labels_of(out["test"]) == {"c_00003.mp4": 0}
    assert read_list(out["train"]).num_classes == 48 and "split" not in read_list(out["train"]).meta
    assert out["train"].name == "diving48_video_train.txt"
    write(ann / "Diving48_vocab.json", json.dumps([["Back", f"{i}som", "NoTwis", "PIKE"] for i in range(48)]))
    out = build_lists("diving48", ann, root / "frames", format="frames", out=tmp_path / "l")
    assert out["classes"].read_text().splitlines()[3] == "Back_3som_NoTwis_PIKE"
    assert {(r.path, r.num_frames) for r in read_list(out["test"]).records} == {("c_00003", 3)}
    (ann / "Diving48_V2_test.json").unlink()
    with pytest.raises(ListBuildError, match=r"Diving48_V2_test\.json not found.*UC San Diego"):
        build_lists("diving48", ann, root)
    with pytest.raises(ListBuildError, match="split 2 does not exist"):
        build_lists("diving48", ann, root, split=2)


# --------------------------------------------------------------------------- Kinetics-400
K_HEADER = "label,youtube_id,time_start,time_end,split\n"


def make_kinetics(tmp_path: Path, val_name: str = "validate.csv") -> tuple[Path, Path]:
    ann = tmp_path / "k400"
    write(
        ann / "train.csv",
        K_HEADER
        + "air drumming,AAAAAAAAAAA,14,24,train\n"
        + "abseiling,BBBBBBBBBBB,0,10,train\n"
        + '"passing American football (in game)",CCCCCCCCCCC,5,15,train\n'
        + "abseiling,DDDDDDDDDDD,30,40,train\n",
    )
    write(ann / val_name, K_HEADER + "abseiling,EEEEEEEEEEE,1,11,val\nair drumming,FFFFFFFFFFF,2,12,val\n")
    write(ann / "test.csv", "youtube_id,time_start,time_end,split\nGGGGGGGGGGG,0,10,test\n")  # unlabelled: ignored
    root = tmp_path / "videos"
    touch(root / "train" / "air_drumming" / "AAAAAAAAAAA_000014_000024.mp4")  # class folder, '_' for spaces
    touch(root / "train" / "abseiling" / "BBBBBBBBBBB_000000_000010.mkv")
    touch(root / "train" / "passing American football (in game)" / "CCCCCCCCCCC_000005_000015.mp4")
    touch(root / "val" / "EEEEEEEEEEE_000001_000011.mp4")  # flat
    # DDDDDDDDDDD and FFFFFFFFFFF were never downloaded
    return ann, root


def test_kinetics_csv_with_missing_videos(tmp_path):
    ann, root = make_kinetics(tmp_path)
    with pytest.warns(UserWarning) as rec:
        out = build_lists("kinetics400", ann, root, out=tmp_path / "l")
    messages = {str(w.message).split(" videos")[0].split(": ")[1]: str(w.message) for w in rec}
    assert set(messages) == {"skipped 1 of 4 train", "skipped 1 of 2 val"}
    assert "DDDDDDDDDDD_000030_000040.mp4" in messages["skipped 1 of 4 train"]
    assert "FFFFFFFFFFF_000002_000012.mp4" in messages["skipped 1 of 2 val"]
    assert set(out) == {"train", "val", "classes"}  # test.csv has no labels
    assert out["classes"].read_text().splitlines() == [
        "abseiling",
        "air drumming",
        "passing American football (in game)",
    ]
    train = read_list(out["train"])
    assert labels_of(out["train"]) == {
        "train/air_drumming/AAAAAAAAAAA_000014_000024.mp4": 1,
        "train/abseiling/BBBBBBBBBBB_000000_000010.mkv": 0,
        "train/passing American football (in game)/CCCCCCCCCCC_000005_000015.mp4": 2,
    }
    assert train.meta["missing"] == "1" and read_list(out["val"]).meta["missing"] == "1"
    assert labels_of(out["val"]) == {"val/EEEEEEEEEEE_000001_000011.mp4": 0}
    with pytest.raises(ListBuildError, match=r"1 of 4 videos of train\.csv"):
        build_lists("kinetics400", ann, root, out=tmp_path / "l", allow_missing=False)
    write(ann / "train.csv", (ann / "train.csv").read_text() + "abseiling,BBBBBBBBBBB,0,10,train\n")
    with pytest.raises(ListBuildError, match=r"duplicate entry 'BBBBBBBBBBB_000000_000010.mp4' in .*train\.csv"):
        build_lists("kinetics400", ann, root, out=tmp_path / "l")


def test_kinetics_val_csv_name_and_unknown_class(tmp_path):
    ann, root = make_kinetics(tmp_path, val_name="val.csv")
    touch(root / "DDDDDDDDDDD_000030_000040.mp4")
    touch(root / "FFFFFFFFFFF_000002_000012.mp4")
    out = build_lists("kinetics400", ann, root, out=tmp_path / "l", allow_missing=False)
    assert len(read_list(out["val"])) == 2
    write(ann / "val.csv", K_HEADER + "juggling,EEEEEEEEEEE,1,11,val\n")
    with pytest.raises(ListBuildError, match=r"val\.csv:2: unknown class name 'juggling'"):
        build_lists("kinetics400", ann, root)
    (ann / "val.csv").unlink()
    with pytest.raises(ListBuildError, match=r"validate\.csv \(or val\.csv\) not found"):
        build_lists("kinetics400", ann, root)


def test_kinetics_frame_folders(tmp_path):
    ann, _ = make_kinetics(tmp_path)
    root = tmp_path / "k_frames"
    frames(root / "train" / "abseiling" / "BBBBBBBBBBB_000000_000010", 4)
    frames(root / "EEEEEEEEEEE_000001_000011", 3)
    with pytest.warns(UserWarning):
        out = build_lists("kinetics400", ann, root, format="frames", out=tmp_path / "l")
    assert {(r.path, r.num_frames, r.label) for r in read_list(out["train"]).records} == {
        ("train/abseiling/BBBBBBBBBBB_000000_000010", 4, 0)
    }
    assert read_list(out["train"]).meta["missing"] == "3"
    assert [r.num_frames for r in read_list(out["val"]).records] == [3]


# --------------------------------------------------------------------------- Something-Something
def test_sth_v1_frames(tmp_path):
    ann = tmp_path / "sth1"
    write(ann / "something-something-v1-labels.csv", "Holding something\nPushing something from left to right\n")
    write(ann / "something-something-v1-train.csv", "100;Pushing something from left to right\n101;Holding something\n")
    write(ann / "something-something-v1-validation.csv", "200;Holding something\n")
    root = tmp_path / "20bn-something-something-v1"
    for i, vid in enumerate(("100", "101", "200")):
        frames(root / vid, 3 + i, "{:05d}.jpg")
    out = build_lists("sth_v1", ann, root, format="frames", out=tmp_path / "l")
    lst = read_list(out["train"])
    assert lst.template == "{:05d}.jpg"
    assert {(r.path, r.num_frames, r.label) for r in lst.records} == {("100", 3, 1), ("101", 4, 0)}
    assert out["val"].name == "sth_v1_frames_val.txt"
    with pytest.raises(ListBuildError, match="format 'video' is not available"):
        build_lists("sth_v1", ann, root, format="video")
    write(ann / "something-something-v1-validation.csv", "200;Holding nothing\n")
    with pytest.raises(ListBuildError, match=r"v1-validation\.csv:1: unknown class name 'Holding nothing'"):
        build_lists("sth_v1", ann, root, format="frames")


def test_sth_v2_template_matching(tmp_path):
    ann = tmp_path / "labels"
    classes = {
        "Putting something on a surface": "0",
        "Something falling like a rock": "1",
        "Putting number of something onto something": "2",
    }
    write(ann / "something-something-v2-labels.json", json.dumps(classes))
    train = [
        {
            "id": "1",
            "label": "putting a pen on a surface",
            "template": "Putting [something] on a surface",
            "placeholders": ["a pen"],
        },
        {
            "id": "2",
            "label": "a stone falling like a rock",
            "template": "[Something] falling like a rock",
            "placeholders": ["a stone"],
        },
        {
            "id": "3",
            "label": "putting 3 coins onto a book",
            "template": "Putting [number of] [something] onto [something]",
            "placeholders": ["3", "coins", "a book"],
        },
    ]
    val = [
        {
            "id": "4",
            "label": "putting a cup on a surface",
            "template": "Putting [something] on a surface",
            "placeholders": ["a cup"],
        }
    ]
    write(ann / "something-something-v2-train.json", json.dumps(train))
    write(ann / "something-something-v2-validation.json", json.dumps(val))
    root = tmp_path / "videos"
    for i in range(1, 5):
        touch(root / f"{i}.webm")
    out = build_lists("sth_v2", ann, root, out=tmp_path / "l")
    assert labels_of(out["train"]) == {"1.webm": 0, "2.webm": 1, "3.webm": 2}
    assert labels_of(out["val"]) == {"4.webm": 0}
    val[0]["template"] = "Putting [something] under a surface"
    write(ann / "something-something-v2-validation.json", json.dumps(val))
    with pytest.raises(
        ListBuildError,
        match=r"validation\.json: item 0 \(id 4\): unknown class name "
        r"'Putting something under a surface'",
    ):
        build_lists("sth_v2", ann, root)


# --------------------------------------------------------------------------- helpers and CLI
def test_frame_templates_and_counting(tmp_path):
    rx = template_regex("img_{:05d}.jpg")
    assert rx.fullmatch("img_00012.jpg") and rx.fullmatch("img_123456.jpg")
    assert not rx.fullmatch("img_0012.jpg") and not rx.fullmatch("img_00012.png")
    assert template_regex("{:05d}.jpg").fullmatch("00001.jpg")
    assert template_regex("frame{}.jpg").fullmatch("frame7.jpg")
    with pytest.raises(ListBuildError, match="exactly one positional field"):
        template_regex("img.jpg")
    d = tmp_path / "v"
    frames(d, 4)
    assert count_frames(d, "img_{:05d}.jpg") == (4, True)
    (d / "img_00002.jpg").unlink()
    assert count_frames(d, "img_{:05d}.jpg") == (3, False)
    assert count_frames(d, "image_{:05d}.jpg") == (0, True)


def test_empty_frame_folder_counts_as_missing(ucf, tmp_path):
    ann, _ = ucf
    root = tmp_path / "f"
    for line in (ann / "trainlist01.txt").read_text().split():
        if "/" in line:
            frames(root / line[:-4], 2)
    for line in (ann / "testlist01.txt").read_text().split():
        frames(root / line[:-4], 2)
    for f in (root / "Archery/v_Archery_g09_c01").iterdir():
        f.unlink()
    with pytest.raises(ListBuildError, match=r"1 of 4 frame folders .*v_Archery_g09_c01 \(no files matching"):
        build_lists("ucf101", ann, root, format="frames", template="img_{:05d}.jpg", out=tmp_path / "l")


def test_cli_lists(ucf, tmp_path, capsys):
    ann, root = ucf
    parser = argparse.ArgumentParser(prog="tbe data")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["lists", "ucf101", "--annotations", str(ann), "--root", str(root), "--out", str(tmp_path / "cli")]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "4 train videos" in printed and "3 classes" in printed
    assert (tmp_path / "cli" / "ucf101_video_test_split1.txt").is_file()
    assert set(DATASETS) >= {
        "ucf101",
        "hmdb51",
        "diving48",
        "kinetics400",
        "sth_v1",
        "sth_v2",
        "hmdb51_sta",
        "actor_hmdb51",
    }
