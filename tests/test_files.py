import json

import pytest

from lenet5.files import atomic_path, write_json


def test_file_appears_only_when_complete(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}


def test_folder_is_replaced_whole(tmp_path):
    target = tmp_path / "folder"
    target.mkdir()
    (target / "stale").write_text("x")
    with pytest.raises(KeyboardInterrupt), atomic_path(target, directory=True) as tmp:
        (tmp / "new").write_text("y")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["stale"]
    with atomic_path(target, directory=True) as tmp:
        (tmp / "new").write_text("y")
    assert [p.name for p in target.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]
