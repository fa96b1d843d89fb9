"""gcm.io.atomic: files and directories appear complete under their final name or not at all."""

import json

import pytest

from gcm.io.atomic import atomic_directory, atomic_path, publish_directory, write_json


def test_a_failed_file_write_leaves_the_old_file_and_no_leftover(tmp_path):
    path = tmp_path / "run.json"
    write_json(path, {"run_id": "a"})
    with pytest.raises(OSError, match="simulated"), atomic_path(path) as tmp:
        tmp.write_text('{"run_id": "b"')  # half written...
        raise OSError("simulated")  # ...and interrupted
    assert json.loads(path.read_text()) == {"run_id": "a"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_directory_is_published_only_when_complete(tmp_path):
    final = tmp_path / "store"
    with pytest.raises(RuntimeError), atomic_directory(final) as tmp:
        (tmp / "chunk").write_bytes(b"1")
        raise RuntimeError("killed half way")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(final) as tmp:
        (tmp / "chunk").write_bytes(b"1")
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
    assert (final / "chunk").read_bytes() == b"1"


def test_publish_replaces_only_when_asked(tmp_path):
    old, new = tmp_path / "out", tmp_path / "out.partial"
    old.mkdir()
    (old / "keep").write_text("old")
    new.mkdir()
    (new / "data").write_text("new")
    with pytest.raises(FileExistsError, match="out exists"):
        publish_directory(new, old)
    assert (old / "keep").exists() and new.exists()
    publish_directory(new, old, replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in old.iterdir()] == ["data"]
