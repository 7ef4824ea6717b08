"""Where audio bytes live. Services see only :class:`BlobStorage`; the filesystem backend is the one
shipped, and an object store (S3 and the like) fits the same four methods.

Keys are relative paths chosen by ramal (never by clients), e.g. ``recordings/2026/11/<id>.wav``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class BlobStorage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def path(self, key: str) -> Path:
        """A local file holding the blob (for streaming with range support)."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the blob; ``False`` if it was already gone."""
        ...

    def exists(self, key: str) -> bool: ...


class FilesystemStorage:
    """Blobs as files under ``root``; writes are atomic (temp file + rename), so readers never see
    half a recording."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _resolve(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return target

    def put(self, key: str, data: bytes) -> None:
        target = self._resolve(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def path(self, key: str) -> Path:
        return self._resolve(key)

    def delete(self, key: str) -> bool:
        target = self._resolve(key)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._resolve(key).is_file()
