"""What a run leaves on disk: reports that honour the umask, nothing outside the report
directory, and an unwritable report directory found before the first request."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, cli, free_port


def test_a_run_writes_readable_reports_and_nothing_where_it_started(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    environment = {
        **{k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"},
        "XDG_CACHE_HOME": str(cache),
        "PYTHONPATH": str(ROOT),
    }
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-m", "conformance._cli", "run", "--report-dir", "out"]
    # the drawn cases only: Hypothesis' files are what this run must put in the cache
    command += ["--max-examples", "2", "--phases", "property"]
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *command],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name for p in work.iterdir()} == {"out"}, "a run leaves nothing but its reports"
    for path in (work / "out").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert (cache / "conformance" / "hypothesis").is_dir()


def test_an_unwritable_report_directory_stops_the_run_before_any_request(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    closed = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("run", "--base-url", closed, "--report-dir", str(blocker / "reports"))
    assert code == 2 and err.count("\n") == 1, err
    assert f"--report-dir {blocker / 'reports'}: cannot write there (Not a directory)" in err
