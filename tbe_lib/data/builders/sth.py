"""Something-Something v1 and v2 (20BN, now Qualcomm). One official split (train / validation);
the test sets have no public labels and are not listed.

* **v1** (JPEG frame folders ``<root>/<id>/{:05d}.jpg``):
  ``something-something-v1-labels.csv`` has one class name per line (label = line order);
  ``something-something-v1-{train,validation}.csv`` have lines ``<id>;<class name>``.
* **v2** (``<root>/<id>.webm`` videos, or frame folders ``<root>/<id>/`` after extraction):
  ``something-something-v2-labels.json`` maps class name -> index (a string);
  ``something-something-v2-{train,validation}.json`` are lists of
  ``{"id", "label", "template", "placeholders"}``. ``label`` is the *filled-in* sentence
  ("Putting a pen on a table"); the class is ``template`` with the brackets removed
  ("Putting [something] on [something]" -> "Putting something on something").
"""

from __future__ import annotations

import re
from pathlib import Path

from ._common import Annotations, Entry, ListBuildError, find_annotation, load_json, load_json_list

HINT_V1 = (
    "download the Something-Something v1 label files (something-something-v1-labels.csv, -train.csv, "
    "-validation.csv) from the 20BN-Something-Something page (now hosted by Qualcomm)"
)
HINT_V2 = (
    "download the Something-Something v2 labels archive (something-something-v2-labels.json, -train.json, "
    "-validation.json) from the 20BN-Something-Something page (now hosted by Qualcomm)"
)
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def template_to_class(template: str) -> str:
    """``"Putting [something] on [something]"`` -> ``"Putting something on something"``."""
    return " ".join(_BRACKETS.sub(r"\1", template).split())


def build_v1(annotations: Path) -> Annotations:
    """Parse the Something-Something v1 CSVs."""
    labels_path = find_annotation(annotations, ["something-something-v1-labels.csv"], dataset="sth_v1", hint=HINT_V1)
    classes = [ln.strip() for ln in labels_path.read_text().splitlines() if ln.strip()]
    if len(set(classes)) != len(classes):
        raise ListBuildError(f"{labels_path}: some class names appear twice")
    label_of = {c: i for i, c in enumerate(classes)}
    subsets: dict[str, list[Entry]] = {}
    sources: dict[str, Path] = {}
    for subset, name in (("train", "train"), ("val", "validation")):
        path = find_annotation(
            labels_path.parent, [f"something-something-v1-{name}.csv"], dataset="sth_v1", hint=HINT_V1
        )
        entries = []
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            if not raw.strip():
                continue
            vid, sep, cls = raw.partition(";")
            if not sep or not vid.strip():
                raise ListBuildError(f"{path}:{lineno}: expected '<id>;<class name>', got {raw!r}")
            cls = cls.strip()
            if cls not in label_of:
                raise ListBuildError(f"{path}:{lineno}: unknown class name {cls!r} (not in {labels_path.name})")
            entries.append(Entry((vid.strip(),), label_of[cls], f"{path.name}:{lineno}"))
        subsets[subset], sources[subset] = entries, path
    return Annotations(
        classes=classes, subsets=subsets, sources=sources, meta={"label_order": f"line order of {labels_path.name}"}
    )


def build_v2(annotations: Path) -> Annotations:
    """Parse the Something-Something v2 JSON files."""
    labels_path = find_annotation(
        annotations, ["something-something-v2-labels.json"], dataset="sth_v2", hint=HINT_V2, subdirs=("labels",)
    )
    mapping = load_json(labels_path)
    if not isinstance(mapping, dict):
        raise ListBuildError(f"{labels_path}: expected a JSON object {{class name: index}}")
    try:
        by_idx = {int(v): str(k) for k, v in mapping.items()}
    except (TypeError, ValueError):
        raise ListBuildError(f"{labels_path}: class indices must be integers (or integer strings)") from None
    if sorted(by_idx) != list(range(len(mapping))):
        raise ListBuildError(f"{labels_path}: class indices must be 0..{len(mapping) - 1}, each once")
    classes = [by_idx[i] for i in range(len(by_idx))]
    label_of = {c: i for i, c in enumerate(classes)}
    lower_of = {c.lower(): i for i, c in enumerate(classes)}
    subsets: dict[str, list[Entry]] = {}
    sources: dict[str, Path] = {}
    for subset, name in (("train", "train"), ("val", "validation")):
        path = find_annotation(
            labels_path.parent, [f"something-something-v2-{name}.json"], dataset="sth_v2", hint=HINT_V2
        )
        data = load_json_list(path, "{id, label, template, placeholders} objects")
        entries = []
        for i, item in enumerate(data):
            try:
                vid, template = str(item["id"]), str(item["template"])
            except (KeyError, TypeError):
                raise ListBuildError(f"{path}: item {i} lacks 'id' or 'template': {item!r}") from None
            cls = template_to_class(template)
            label = label_of.get(cls, lower_of.get(cls.lower()))
            if label is None:
                raise ListBuildError(
                    f"{path}: item {i} (id {vid}): unknown class name {cls!r} (from template {template!r}) "
                    f"not in {labels_path.name}"
                )
            entries.append(Entry((f"{vid}.webm",), label, f"{path.name}[{i}]"))
        subsets[subset], sources[subset] = entries, path
    return Annotations(
        classes=classes, subsets=subsets, sources=sources, meta={"label_order": f"indices of {labels_path.name}"}
    )
