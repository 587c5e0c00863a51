"""write_atomic: a reader sees the old file or the new one, never a part of either."""
import os

import pytest

from sorix._atomic import write_atomic


def test_writes_text_and_bytes(tmp_path):
    path = tmp_path / "f.py"
    write_atomic(str(path), "x = 1\n")
    assert path.read_text() == "x = 1\n"
    write_atomic(str(path), b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["f.py"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch,
                                                                   failing):
    path = tmp_path / "f.py"
    path.write_text("old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(OSError, match="No space"):
        write_atomic(str(path), "new contents")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.py"]


def test_fused_sources_are_written_through_write_atomic(tmp_path, monkeypatch):
    from sorix.kernels import cache, fused
    calls = []
    monkeypatch.setattr(fused, "write_atomic", lambda p, d: calls.append((p, d)) or
                        write_atomic(p, d))
    monkeypatch.setattr(fused, "_source_dir", lambda: str(tmp_path))
    monkeypatch.setattr(cache, "_saving", True)
    path = fused._source_file("fused_test_kernel", "def fused_test_kernel():\n    pass\n")
    assert calls == [(path, "def fused_test_kernel():\n    pass\n")]
    assert open(path).read() == "def fused_test_kernel():\n    pass\n"
