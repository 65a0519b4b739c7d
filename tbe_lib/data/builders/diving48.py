"""Diving48 V2 (SVCL, UC San Diego): ``Diving48_V2_train.json`` / ``Diving48_V2_test.json``.

Each file is a JSON list of ``{"vid_name", "label", "start_frame", "end_frame"}``; ``label``
is already 0-based (0..47). Videos are ``<root>/<vid_name>.mp4``, frame folders
``<root>/<vid_name>/``. Class names come from ``Diving48_vocab.json`` (a list of
``[takeoff, somersault, twist, flight]``, joined with ``_``) when it is next to the
split files, else ``class_00``..``class_47``. One official split.
"""

from __future__ import annotations

from pathlib import Path

from ._common import Annotations, Entry, ListBuildError, find_annotation, load_json, load_json_list

HINT = (
    "download the Diving48 V2 annotations (Diving48_V2_train.json, Diving48_V2_test.json, Diving48_vocab.json) "
    "from the Diving48 page of the Statistical Visual Computing Lab (SVCL) at UC San Diego"
)
NUM_CLASSES = 48


def build(annotations: Path) -> Annotations:
    """Parse the Diving48 V2 train/test JSON files."""
    subsets: dict[str, list[Entry]] = {}
    sources: dict[str, Path] = {}
    max_label = -1
    for subset in ("train", "test"):
        path = find_annotation(annotations, [f"Diving48_V2_{subset}.json"], dataset="diving48", hint=HINT)
        data = load_json_list(path, "{vid_name, label, ...} objects")
        entries = []
        for i, item in enumerate(data):
            try:
                name, label = str(item["vid_name"]), int(item["label"])
            except (KeyError, TypeError, ValueError):
                raise ListBuildError(f"{path}: item {i} lacks an integer 'label' or a 'vid_name': {item!r}") from None
            if label < 0:
                raise ListBuildError(f"{path}: item {i} ({name}) has negative label {label}")
            max_label = max(max_label, label)
            entries.append(Entry((f"{name}.mp4",), label, f"{path.name}[{i}]"))
        subsets[subset], sources[subset] = entries, path
    vocab_path = sources["train"].parent / "Diving48_vocab.json"
    if vocab_path.is_file():
        vocab = load_json(vocab_path)
        if not isinstance(vocab, list):
            raise ListBuildError(f"{vocab_path}: expected a JSON list of [takeoff, somersault, twist, flight] lists")
        classes = ["_".join(map(str, v)) if isinstance(v, list) else str(v) for v in vocab]
        if max_label >= len(classes):
            raise ListBuildError(
                f"{sources['train'].parent}: label {max_label} but {vocab_path.name} has {len(classes)} classes"
            )
    else:
        classes = [f"class_{i:02d}" for i in range(max(NUM_CLASSES, max_label + 1))]
    return Annotations(classes=classes, subsets=subsets, sources=sources)
