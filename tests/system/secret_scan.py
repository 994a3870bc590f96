"""Search texts for credentials: known secret values, and the IAM tokens an emulator issued.

The emulator keeps issued tokens only as SHA-256 digests (``GET /_emulator/tokens`` lists the
digest, the length and the format's fixed prefix), so a token is found by hashing, at every
occurrence of the prefix, the window of the token's length. Secret values are also searched in
percent-encoded form (connection URIs, query strings).

Findings never quote a secret: the context shows ``<name>`` in its place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote


def emulator_secrets(config: Any) -> dict[str, str]:
    """Every credential an emulator's config holds, by name (what each scan looks for)."""
    return {
        "AK": config.access_key,
        "SK": config.secret_key,
        "temporary AK": config.temp_access_key,
        "temporary SK": config.temp_secret_key,
        "security token": config.security_token,
        "IAM password": config.iam_password,
    }


@dataclass
class Finding:
    category: str
    source: str
    secret: str
    offset: int
    context: str

    def __str__(self) -> str:
        return f"{self.category}: {self.source} @{self.offset}: {self.secret} in ...{self.context}..."


@dataclass
class Tally:
    items: int = 0
    bytes: int = 0


@dataclass
class SecretScanner:
    secrets: Mapping[str, str]
    issued_tokens: Iterable[Mapping[str, Any]] = ()
    findings: list[Finding] = field(default_factory=list)
    tally: dict[str, Tally] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._needles: list[tuple[str, str]] = []
        for name, value in self.secrets.items():
            if len(value) < 8:
                raise ValueError(f"secret {name!r} is too short to search for without false positives")
            for variant in dict.fromkeys([value, quote(value, safe="")]):
                self._needles.append((name, variant))
        self._digests: dict[str, str] = {}
        self._windows: set[tuple[str, int]] = set()
        for number, token in enumerate(self.issued_tokens, 1):
            self._digests[str(token["sha256"])] = f"issued IAM token #{number}"
            self._windows.add((str(token["prefix"]), int(token["length"])))
        if any(not prefix for prefix, _ in self._windows):
            raise ValueError("issued tokens need a non-empty prefix")

    @property
    def token_count(self) -> int:
        return len(self._digests)

    def scan_text(self, category: str, source: str, text: str) -> None:
        tally = self.tally.setdefault(category, Tally())
        tally.items += 1
        tally.bytes += len(text.encode("utf-8", errors="replace"))
        for name, needle in self._needles:
            start = text.find(needle)
            while start >= 0:
                self._report(category, source, name, text, start, len(needle))
                start = text.find(needle, start + 1)
        for prefix, length in self._windows:
            start = text.find(prefix)
            while start >= 0:
                window = text[start : start + length]
                if len(window) == length:
                    name = self._digests.get(
                        hashlib.sha256(window.encode("utf-8", "surrogateescape")).hexdigest()
                    )
                    if name is not None:
                        self._report(category, source, name, text, start, length)
                start = text.find(prefix, start + 1)

    def scan_file(self, category: str, path: Path) -> None:
        self.scan_text(category, str(path), path.read_bytes().decode("utf-8", errors="replace"))

    def _report(self, category: str, source: str, name: str, text: str, start: int, length: int) -> None:
        before = text[max(0, start - 60) : start]
        after = text[start + length : start + length + 60]
        context = (before + f"<{name}>" + after).replace("\n", "\\n")
        # the surroundings may hold another secret: never print one
        for other, needle in self._needles:
            context = context.replace(needle, f"<{other}>")
        self.findings.append(Finding(category, source, name, start, context))

    def summary(self) -> str:
        return ", ".join(f"{k}: {v.items} items / {v.bytes} bytes" for k, v in sorted(self.tally.items()))
