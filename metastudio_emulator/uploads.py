"""OBS-like presigned upload URLs served by the emulator itself, and what an upload leaves behind.

The real service hands out presigned OBS URLs. The emulator signs its own URLs with a random
key generated per server instance (never the user's SK: a URL must not leak anything about
the credentials), so only URLs this instance issued are accepted, and they expire like OBS
ones. Uploads are inspected while streaming and only metadata is kept (size, MD5, zip member
names): a test can push large packages without the emulator holding them in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import tempfile
import zipfile
from dataclasses import dataclass, field
from urllib.parse import quote

#: Identity shown in presigned URLs (OBS puts the signer's AK there); not a user credential.
PRESIGN_ACCESS_KEY_ID = "EMULATOROBSPRESIGN00"
#: At most this many zip member names are kept per upload.
MAX_MEMBER_NAMES = 2000


class Presigner:
    """Signs and checks ``PUT`` URLs under ``/_obs/``; the key lives only in this object."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _signature(self, path: str, expires: int) -> str:
        mac = hmac.new(self._key, f"PUT\n{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def url(self, base_url: str, path: str, expires: int) -> str:
        """``{base_url}{path}?AccessKeyId=..&Expires=..&Signature=..`` (``path`` starts with ``/``)."""
        sig = self._signature(path, expires)
        return (
            f"{base_url}{quote(path)}?AccessKeyId={PRESIGN_ACCESS_KEY_ID}"
            f"&Expires={expires}&Signature={quote(sig, safe='')}"
        )

    def check(self, path: str, expires: str | None, signature: str | None, now: float) -> str | None:
        """``None`` if valid, else the OBS error code (``AccessDenied``/``SignatureDoesNotMatch``)."""
        if not expires or not signature:
            return "AccessDenied"
        try:
            expires_at = int(expires)
        except ValueError:
            return "AccessDenied"
        if not hmac.compare_digest(self._signature(path, expires_at), signature):
            return "SignatureDoesNotMatch"
        if now > expires_at:
            return "AccessDenied"
        return None


@dataclass
class UploadInfo:
    """Metadata of one stored object (never its bytes)."""

    object_key: str
    content_type: str
    size: int
    md5: str
    uploaded_at: float
    sequence: int
    is_zip: bool = False
    members: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "object_key": self.object_key,
            "content_type": self.content_type,
            "size": self.size,
            "md5": self.md5,
            "etag": f'"{self.md5}"',
            "uploaded_at": self.uploaded_at,
            "sequence": self.sequence,
            "is_zip": self.is_zip,
            "members": list(self.members),
        }


class UploadTooLarge(Exception):
    """The body exceeded the configured limit."""


class StreamingInspector:
    """Consumes an upload chunk by chunk: size and MD5 always, zip members if asked.

    Bytes go to a spooled temporary file (memory up to 8 MiB, then disk) only long enough to
    read the zip directory, and are discarded right after.
    """

    def __init__(self, want_zip: bool, max_bytes: int) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0
        self._max = max_bytes
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = (
            # The spool outlives this call by design; finish() closes it.
            tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) if want_zip else None  # noqa: SIM115
        )

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            raise UploadTooLarge(f"upload exceeds {self._max} bytes")
        self._md5.update(chunk)
        if self._spool is not None:
            self._spool.write(chunk)

    def finish(self) -> tuple[int, str, bool, list[str]]:
        """Return ``(size, md5 hex, is_zip, member names)`` and drop the spooled bytes."""
        is_zip, members = False, []
        if self._spool is not None:
            try:
                self._spool.seek(0)
                try:
                    with zipfile.ZipFile(self._spool) as archive:
                        members = archive.namelist()[:MAX_MEMBER_NAMES]
                        is_zip = True
                except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                    is_zip = False
            finally:
                self._spool.close()
        return self._size, self._md5.hexdigest(), is_zip, members
