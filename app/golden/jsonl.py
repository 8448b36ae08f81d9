"""Read, write, version and merge golden sets stored as JSONL (one example per line)."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from app.errors import InputError
from app.golden.schema import GoldenExample, describe_validation_error


class _NotPortableJSON(ValueError):
    """Text Python's json module accepts but that would not survive export unchanged."""


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON; pydantic would export them as null and silently change the data.
    raise _NotPortableJSON(f"{name} is not a JSON value")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys, so export would quietly drop the first.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _NotPortableJSON(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _refuse_overflow(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotPortableJSON(f"number {text} is too large for a 64-bit float")
    return value


def _parse_strict_json(raw: str) -> Any:
    """One JSON value, refusing what would change or fail on export (NaN, duplicate keys, lone surrogates)."""
    data = json.loads(
        raw,
        parse_constant=_refuse_constant,
        parse_float=_refuse_overflow,
        object_pairs_hook=_refuse_duplicate_keys,
    )
    try:
        # "\ud800" is valid JSON but no UTF-8 text can hold it, so the export would crash later.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _NotPortableJSON(
            f"contains a lone UTF-16 surrogate {exc.object[exc.start]!r}, which UTF-8 cannot hold"
        ) from None
    return data


def read_jsonl(path: Path | str) -> list[GoldenExample]:
    """Every example in a JSONL file; raises InputError naming file, line and reason, returning nothing."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark left by an editor is not worth rejecting a file for.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None

    examples: list[GoldenExample] = []
    first_line_of: dict[str, int] = {}
    # Split on "\n" only: str.splitlines() would also break inside strings at U+2028 and friends,
    # which json.dumps(ensure_ascii=False) writes unescaped.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            data = _parse_strict_json(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not valid JSON: {exc.msg} at column {exc.colno}") from None
        except _NotPortableJSON as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(data).__name__}")
        try:
            example = GoldenExample.model_validate(data)
        except ValidationError as exc:
            raise InputError(f"{path}:{number}: {describe_validation_error(exc)}") from None
        if example.id in first_line_of:
            raise InputError(
                f"{path}:{number}: duplicate id {example.id!r} (first seen on line {first_line_of[example.id]})"
            )
        first_line_of[example.id] = number
        examples.append(example)
    return examples


def _canonical_line(example: GoldenExample) -> str:
    return json.dumps(
        example.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def dump_jsonl(examples: Iterable[GoldenExample]) -> str:
    """The examples as canonical JSONL: sorted by id, sorted keys, one per line, trailing newline."""
    ordered = sorted(examples, key=lambda example: example.id)
    for previous, current in pairwise(ordered):
        if previous.id == current.id:
            raise InputError(f"duplicate id {current.id!r}: a golden set holds each id once")
    return "".join(_canonical_line(example) + "\n" for example in ordered)


def write_jsonl(path: Path | str, examples: Iterable[GoldenExample]) -> None:
    """Write the examples as canonical JSONL, replacing the file only once it is fully written."""
    path = Path(path)
    data = dump_jsonl(examples).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot be written ({exc.strerror})") from None


def dataset_version(examples: Iterable[GoldenExample]) -> str:
    """A short content version of a golden set: the first 12 hex digits of sha256 of its canonical JSONL."""
    return hashlib.sha256(dump_jsonl(examples).encode("utf-8")).hexdigest()[:12]


def load_golden_dir(directory: Path | str) -> list[GoldenExample]:
    """Every example of every ``*.jsonl`` file in a directory; an id in two files is an error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory of golden JSONL files")
    examples: list[GoldenExample] = []
    file_of: dict[str, Path] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for example in read_jsonl(path):
            if example.id in file_of:
                raise InputError(f"duplicate id {example.id!r} in {file_of[example.id]} and {path}")
            file_of[example.id] = path
            examples.append(example)
    return sorted(examples, key=lambda example: example.id)


class MergeResult(NamedTuple):
    """The merged set (sorted by id) and how many incoming examples were new, changed or the same."""

    merged: list[GoldenExample]
    added: int
    updated: int
    unchanged: int


def merge_by_id(existing: Iterable[GoldenExample], incoming: Iterable[GoldenExample]) -> MergeResult:
    """Import ``incoming`` into ``existing`` by id; importing the same examples twice changes nothing."""
    by_id = {example.id: example for example in existing}
    seen: set[str] = set()
    added = updated = unchanged = 0
    for example in incoming:
        if example.id in seen:
            raise InputError(f"duplicate id {example.id!r} in the examples being imported")
        seen.add(example.id)
        current = by_id.get(example.id)
        if current is None:
            added += 1
        elif _canonical_line(current) == _canonical_line(example):
            unchanged += 1
        else:
            updated += 1
        by_id[example.id] = example
    merged = sorted(by_id.values(), key=lambda example: example.id)
    return MergeResult(merged=merged, added=added, updated=updated, unchanged=unchanged)
