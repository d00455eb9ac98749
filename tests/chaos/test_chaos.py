"""A short chaos run in ``make test``: a few faults, the full checker (``make chaos`` runs
30 minutes). As root the run has real partitions in its own network namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
@pytest.mark.timeout(420)
def test_a_short_chaos_run_has_no_violations(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tests.chaos.run", "--seed", "11", "--duration", "25",
               "--nodes", "3", "--clients", "3", "--dir", str(tmp_path / "chaos")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=400,
                            cwd=Path(__file__).parents[2])  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "violations 0" in report
