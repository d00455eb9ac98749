"""Short chaos runs in ``make test``: a few faults, the full checker (``make chaos`` runs
30 minutes). As root the first has its partitions drop packets in its own network
namespace; the second (like every run without root) cuts peer links in its proxy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
@pytest.mark.timeout(420)
@pytest.mark.parametrize(
    ("where", "duration"), [((), "25"), (("--no-netns",), "15")], ids=["namespace", "proxy"]
)
def test_a_short_chaos_run_has_no_violations(
    tmp_path: Path, where: tuple[str, ...], duration: str
) -> None:
    command = [sys.executable, "-m", "tests.chaos.run", "--seed", "11", "--duration", duration,
               "--nodes", "3", "--clients", "3", "--dir", str(tmp_path / "chaos"),
               *where]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=400,
                            cwd=Path(__file__).parents[2])  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "violations 0" in report
    assert "p0: " in report  # the plain reclaiming client ran, and was checked
