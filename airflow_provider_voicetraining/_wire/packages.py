"""Training packages: what a zip must hold for an edition, checked before any job is created.

The rule comes from :data:`~.vocabulary.EDITIONS` and is applied by :func:`missing_files`, which
the emulator's audit uses too: a package the provider accepts is one the emulator accepts. File
names match by base name, case-insensitively. :func:`make_synthetic_package` writes a small
valid package of tones (demo, tests, example DAG).
"""

from __future__ import annotations

import io
import math
import os
import struct
import wave
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_voicetraining._wire.checks import edition as check_edition
from airflow_provider_voicetraining._wire.errors import VoiceTrainingPackageError
from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, Edition

__all__ = [
    "PackageInfo",
    "base_name",
    "make_synthetic_package",
    "missing_files",
    "normalized_names",
    "required_files",
    "validate_package",
    "validate_recordings",
]


@dataclass(frozen=True)
class PackageInfo:
    """A checked package: where it is, its size, and its member names."""

    path: str
    size: int
    members: tuple[str, ...]


def base_name(member: str) -> str:
    """Return a zip member's file name without folders, lower-cased (how files are matched)."""
    return member.replace("\\", "/").rsplit("/", 1)[-1].lower()


def normalized_names(members: Iterable[str]) -> set[str]:
    """:func:`base_name` of each of a zip's file members (folders skipped)."""
    return {base_name(m) for m in members if not m.endswith("/")}


def required_files(edition: Edition) -> list[tuple[str, str]]:
    """Return the ``(audio, text)`` pairs a sentence edition needs, in order (empty for the others)."""
    return [(f"{i}.wav", f"{i}.txt") for i in range(edition.sentences or 0)]


def missing_files(edition: Edition, names: Iterable[str]) -> list[tuple[str, str, list[str]]]:
    """Return what ``names`` (see :func:`normalized_names`) lack for ``edition``.

    One ``(audio, text, missing)`` entry per sentence pair with a file missing; for a
    long-recording edition without any ``.wav``, a single ``("", "", ["a .wav recording"])``.
    """
    present = set(names)
    if edition.sentences is None:
        return [] if any(n.endswith(".wav") for n in present) else [("", "", ["a .wav recording"])]
    gaps = []
    for audio, text in required_files(edition):
        missing = [n for n in (audio, text) if n not in present]
        if missing:
            gaps.append((audio, text, missing))
    return gaps


def _zip_members(path: object, field: str) -> tuple[str, dict[str, int]]:
    """Check that ``path`` is a readable local zip; return it and its members' sizes by base name."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise VoiceTrainingPackageError(field, "is empty", "give the local path of the zip")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VoiceTrainingPackageError(
            field,
            f"{path!r} does not exist on this worker",
            "check the path (and that the upstream task wrote it)",
        )
    if not os.path.isfile(path):
        raise VoiceTrainingPackageError(field, f"{path!r} is not a file", "give the path of the zip file")
    if not zipfile.is_zipfile(path):
        raise VoiceTrainingPackageError(
            field, f"{path!r} is not a zip archive", "pack the recordings and transcripts into a .zip"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise VoiceTrainingPackageError(
            field, f"{path!r} cannot be read as a zip ({exc})", "rebuild the zip"
        ) from None
    names = [base_name(i.filename) for i in infos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise VoiceTrainingPackageError(
            field, f"holds several files named {duplicates[:5]}", "keep one file per sentence number"
        )
    return path, dict(zip(names, (i.file_size for i in infos), strict=True))


def validate_recordings(path: object) -> PackageInfo:
    """Check a zip for the recording check (short job): readable, with a non-empty ``.wav``.

    :param path: local path of the zip.
    """
    path, sizes = _zip_members(path, "package")
    if not any(n.endswith(".wav") and size > 0 for n, size in sizes.items()):
        raise VoiceTrainingPackageError(
            "package", "has no non-empty .wav recording", "add the recordings to check (.wav files)"
        )
    return PackageInfo(path=path, size=os.path.getsize(path), members=tuple(sorted(sizes)))


def validate_package(path: object, edition: str) -> PackageInfo:
    """Raise :class:`VoiceTrainingPackageError` naming the problem, or describe the package.

    :param path: local path of the zip.
    :param edition: ``basic``, ``middle``, ``advance`` or ``third_party``.
    """
    spec = EDITIONS[check_edition(edition)]
    field = "training_package"
    path, sizes = _zip_members(path, field)
    gaps = missing_files(spec, sizes)
    if gaps and spec.sentences is not None:
        missing = [name for _, _, names_ in gaps for name in names_]
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise VoiceTrainingPackageError(
            field,
            f"lacks {len(missing)} file(s) the {spec.name} edition requires: {shown}",
            f"include 0.wav..{spec.sentences - 1}.wav and the matching .txt transcripts",
        )
    recordings = [n for n, size in sizes.items() if n.endswith(".wav") and size > 0]
    if spec.sentences is None and not recordings:
        raise VoiceTrainingPackageError(
            field,
            f"has no non-empty .wav recording (the {spec.name} edition needs one)",
            "add the recording",
        )
    empty = [n for pair in required_files(spec) for n in pair if sizes[n] == 0]
    if empty:
        raise VoiceTrainingPackageError(field, f"has empty files: {empty[:8]}", "re-export them")
    return PackageInfo(path=path, size=os.path.getsize(path), members=tuple(sorted(sizes)))


def _tone(seconds: float, frequency: float, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(3000 * math.sin(2 * math.pi * frequency * i / rate)))
            for i in range(int(seconds * rate))
        )
        out.writeframes(frames)
    return buffer.getvalue()


def make_synthetic_package(path: str | os.PathLike[str], edition: str = "basic", seconds: float = 0.2) -> str:
    """Write a small, valid training zip of synthetic tones for ``edition``; return its path.

    :param path: where to write the zip (parent folders are created).
    :param edition: the edition whose layout to follow.
    :param seconds: length of each sentence's tone (a long recording gets ten times that).
    """
    spec = EDITIONS[check_edition(edition)]
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if spec.sentences is None:
            archive.writestr("recording.wav", _tone(seconds * 10, 220.0))
        for i, (audio, text) in enumerate(required_files(spec)):
            archive.writestr(audio, _tone(seconds, 200.0 + 10 * i))
            archive.writestr(text, f"Synthetic sentence number {i}.\n")
    return path
