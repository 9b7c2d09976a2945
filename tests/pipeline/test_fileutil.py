"""Atomic directory output: a finished block replaces the target, a failed one leaves it as it was."""

import pytest

from braidrec.pipeline.fileutil import atomic_dir


@pytest.mark.parametrize("existed", [False, True])
def test_a_finished_block_replaces_the_target_and_leaves_no_temp_dir(tmp_path, existed):
    target = tmp_path / "out"
    if existed:
        target.mkdir()
        (target / "old.txt").write_text("old")
    with atomic_dir(target) as work:
        assert not (work / "old.txt").exists()
        (work / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_block_keeps_the_old_target_and_leaves_no_temp_dir(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_dir(target) as work:
            (work / "new.txt").write_text("new")
            raise RuntimeError("half way")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
