"""The hostile-input benchmark: its case table, snapshot and one real case."""

import os

from benchmarks.bench.bench_hostile import CASES, _snapshot, run_case


def test_cases_are_unique_and_well_formed():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert {case.side for case in CASES} == {"input", "output"}
    assert {case.expect for case in CASES} <= {"error", "skip", "ok", "any"}


def test_snapshot_sees_changes_outside_out_only(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "user.txt").write_text("mine")
    os.mkfifo(tmp_path / "pipe.png")   # listed, never opened
    before = _snapshot(tmp_path, str(tmp_path / "out"))
    (tmp_path / "out" / "results.md").write_text("ours")
    assert _snapshot(tmp_path, str(tmp_path / "out")) == before
    (tmp_path / "user.txt").write_text("changed")
    assert _snapshot(tmp_path, str(tmp_path / "out")) != before


def test_one_real_case_gives_a_clear_error(tmp_path):
    case = next(case for case in CASES if case.name == "--image-size 30000")
    (tmp_path / "sentinel").mkdir()
    row = run_case(case, str(tmp_path), timeout=60)
    assert row["verdict"] == "clear error", row
    assert row["exit"] == 2 and "4096" in row["message"] and not row["traceback"]
    assert row["n_touched"] == 0 and row["peak_mb"] > 0
