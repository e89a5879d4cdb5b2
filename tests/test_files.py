"""Atomic writes: readers see the old file or the whole new one, never a half."""

from __future__ import annotations

import pytest

from analog_tt.core.files import atomic_write_bytes, atomic_write_with


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.bin"
    atomic_write_bytes(path, b"old")

    def half_then_fail(fh):
        fh.write(b"new, half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.bin"]


def test_a_streamed_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "result.bin"
    atomic_write_with(path, lambda fh: [fh.write(bytes([i]) * 1000) for i in range(5)])
    assert path.read_bytes() == b"".join(bytes([i]) * 1000 for i in range(5))
    assert oct(path.stat().st_mode & 0o777) == "0o644"
