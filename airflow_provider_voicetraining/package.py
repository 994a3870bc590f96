"""Training packages: check a local zip before any job is created, and make synthetic ones.

What each edition needs (MetaStudio create-job docs): **basic** 20 sentence pairs
``0.wav..19.wav`` + ``0.txt..19.txt``; **middle** 100 pairs ``0..99``; **advance** and
**third_party** one long ``.wav``. Checking this locally first means a bad package fails the
task before a remote job exists, instead of leaving a half-created job behind.
"""

from __future__ import annotations

import io
import math
import os
import struct
import wave
import zipfile
from dataclasses import dataclass

from airflow_provider_voicetraining.client.api import edition as check_edition
from airflow_provider_voicetraining.errors import VoiceTrainingPackageError

SENTENCES = {"basic": 20, "middle": 100}


@dataclass(frozen=True)
class PackageInfo:
    path: str
    size: int
    members: tuple[str, ...]


def required_members(edition: str) -> tuple[str, ...]:
    count = SENTENCES.get(check_edition(edition))
    if count is None:
        return ()
    return tuple(f"{i}.{ext}" for i in range(count) for ext in ("wav", "txt"))


def validate_package(path: object, edition: str) -> PackageInfo:
    """Raise :class:`VoiceTrainingPackageError` naming the problem, or describe the package."""
    edition = check_edition(edition)
    field = "training_package"
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise VoiceTrainingPackageError(field, "is empty", "give the local path of the training zip")
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
    names = [os.path.basename(i.filename) for i in infos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise VoiceTrainingPackageError(
            field, f"holds several files named {duplicates[:5]}", "keep one file per sentence number"
        )
    sizes = {os.path.basename(i.filename): i.file_size for i in infos}
    required = required_members(edition)
    if required:
        missing = [n for n in required if n not in sizes]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise VoiceTrainingPackageError(
                field,
                f"lacks {len(missing)} file(s) the {edition} edition requires: {shown}",
                f"include 0.wav..{SENTENCES[edition] - 1}.wav and the matching .txt transcripts",
            )
        empty = [n for n in required if sizes[n] == 0]
        if empty:
            raise VoiceTrainingPackageError(field, f"has empty files: {empty[:8]}", "re-export them")
    else:
        wavs = [n for n, size in sizes.items() if n.lower().endswith(".wav") and size > 0]
        if not wavs:
            raise VoiceTrainingPackageError(
                field,
                f"has no non-empty .wav recording (the {edition} edition needs one)",
                "add the recording",
            )
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
    """Write a small, valid training zip of synthetic tones for ``edition`` (demo and tests)."""
    edition = check_edition(edition)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        count = SENTENCES.get(edition)
        if count is None:
            archive.writestr("recording.wav", _tone(seconds * 10, 220.0))
        else:
            for i in range(count):
                archive.writestr(f"{i}.wav", _tone(seconds, 200.0 + 10 * i))
                archive.writestr(f"{i}.txt", f"Synthetic sentence number {i}.\n")
    return path
