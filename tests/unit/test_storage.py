from __future__ import annotations

from pathlib import Path

import pytest

from ramal.recordings.storage import FilesystemStorage


def test_put_path_exists_delete(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "blobs")
    storage.put("recordings/2026/11/a.wav", b"RIFF")
    assert storage.exists("recordings/2026/11/a.wav")
    assert storage.path("recordings/2026/11/a.wav").read_bytes() == b"RIFF"
    assert storage.delete("recordings/2026/11/a.wav") is True
    assert storage.delete("recordings/2026/11/a.wav") is False
    assert not storage.exists("recordings/2026/11/a.wav")
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b"])
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        FilesystemStorage(tmp_path).put(key, b"x")
