"""Benchmark results as JSON files in ``benchmarks/results/``, for :mod:`benchmarks.report`.

Every benchmark module calls :func:`save` once at the end of its run with the parameters it
used and its measurements; the file also records when it ran, on what machine, and which
command-line arguments and environment variables (``env_prefix``) changed its defaults, so
the report can say how this run differs from a full one.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
STARTED = datetime.datetime.now(datetime.UTC)  # when the benchmark module was imported


def fsync_ms(samples: int = 20) -> float:
    """Median time of writing 4 KiB and fsyncing it, where the benchmarks keep their data."""
    with tempfile.NamedTemporaryFile(prefix="bench-fsync-") as file:
        times = []
        for _ in range(samples):
            file.write(b"x" * 4096)
            file.flush()
            start = time.perf_counter()
            os.fsync(file.fileno())
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "fsync_ms": round(fsync_ms(), 3),
    }


def save(
    name: str,
    parameters: dict[str, Any],
    data: Any,
    *,
    env_prefix: str = "",
    plots: Sequence[Path | None] = (),
) -> Path:
    """Write ``benchmarks/results/<name>.json`` and return its path.

    ``plots`` are the PNG files this run wrote (``None``: not written, e.g. no matplotlib).
    """
    environment = {k: v for k, v in os.environ.items() if env_prefix and k.startswith(env_prefix)}
    record = {
        "name": name,
        "started": STARTED.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": parameters,
        "settings": {
            "arguments": sys.argv[1:],
            "environment": environment,
        },
        "plots": [path.name for path in plots if path is not None],
        "results": data,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return path
