"""Write benchmark figures as PNG files into ``docs/benchmarks/`` (one file per figure).

matplotlib is a benchmark-only dependency (``make bench`` installs it). Without it the
benchmarks still print their tables; :func:`save` then says so once and writes nothing.
Every figure is titled with the date of its run; the benchmark records which PNGs it wrote
in its JSON results, and :mod:`benchmarks.report` links only those from ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import datetime
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"


def save(name: str, draw: Callable[[Any], None], *, title: str) -> Path | None:
    """Draw with ``draw(axes)`` onto a fresh figure and save it as ``OUT_DIR/name.png``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: {name}.png not written", file=sys.stderr)
        return None
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        draw(axes)
        axes.set_title(f"{title}\n(run of {datetime.date.today().isoformat()})", fontsize=10)
        figure.tight_layout()
        path = OUT_DIR / f"{name}.png"
        figure.savefig(path)
    finally:
        plt.close(figure)
    print(f"wrote {path}", file=sys.stderr)
    return path


def grouped_bars(
    name: str,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    ylabel: str,
    *,
    log: bool = False,
    xlabel: str = "",
) -> Path | None:
    """One group of bars per category, one bar per series (``None``: no bar)."""

    def draw(axes: Any) -> None:
        count = max(len(series), 1)
        width = 0.8 / count
        for i, (label, values) in enumerate(series.items()):
            xs = [c + (i - (count - 1) / 2) * width for c in range(len(categories))]
            pairs = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
            bars = axes.bar([x for x, _ in pairs], [v for _, v in pairs], width, label=label)
            if len(series) * len(categories) <= 8:  # few bars: print their values on them
                axes.bar_label(bars, fmt="%.3g", fontsize=8)
        axes.set_xticks(range(len(categories)), list(categories))
        axes.set_ylabel(ylabel)
        if xlabel:
            axes.set_xlabel(xlabel)
        if log:
            axes.set_yscale("log")
        axes.grid(axis="y", alpha=0.3)
        if len(series) > 3:  # many series: the legend goes beside the axes, not over bars
            axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        else:
            axes.legend(fontsize=8)

    return save(name, draw, title=title)


def points(
    name: str,
    title: str,
    groups: Mapping[str, Sequence[float]],
    ylabel: str,
) -> Path | None:
    """Every sample of each group as a dot, with its median as a bar behind them."""

    def draw(axes: Any) -> None:
        for x, values in enumerate(groups.values()):
            ordered = sorted(values)
            if not ordered:
                continue
            axes.bar(x, statistics.median(ordered), 0.6, alpha=0.35, color=f"C{x % 10}")
            spread = [x + (j / max(len(ordered) - 1, 1) - 0.5) * 0.4 for j in range(len(ordered))]
            axes.plot(spread, ordered, "o", markersize=3, color=f"C{x % 10}")
        axes.set_xticks(range(len(groups)), [label.replace(": ", ":\n") for label in groups])
        axes.tick_params(axis="x", labelsize=8)
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", alpha=0.3)

    return save(name, draw, title=title)


def fanout(rows: Sequence[Mapping[str, Any]], paced_interval_ms: float = 5.0) -> list[Path | None]:
    """Burst deliveries/s, p99 and server CPU per delivery, and paced p50, per system, one
    group per receiver count (``rows`` as irc_fanout saves them)."""
    counts = [row["receivers"] for row in rows]
    systems = list(dict.fromkeys(name for row in rows for name in row["systems"]))

    def column(mode: str, metric: str) -> dict[str, list[float | None]]:
        series: dict[str, list[float | None]] = {}
        for name in systems:
            values: list[float | None] = []
            for row in rows:
                measured = row["systems"].get(name, {})
                figures = None if "error" in measured else measured.get(mode)
                if figures is None or (metric.startswith("cpu") and not figures["cpu_ticks"]):
                    values.append(None)  # failed, not run, or no clock tick to show
                else:
                    values.append(float(figures[metric]))
            series[name] = values
        return series

    categories = [f"{n} receivers" for n in counts]
    written = [
        grouped_bars("fanout_throughput", "IRC fan-out, burst: deliveries per second "
                     "(higher is better)", categories, column("burst", "deliveries_per_second"),
                     "deliveries/s", log=True),
        grouped_bars("fanout_p99", "IRC fan-out, burst: p99 latency (lower is better)",
                     categories, column("burst", "p99_ms"), "p99 latency, ms", log=True),
        grouped_bars("fanout_cpu", "IRC fan-out, burst: server CPU per delivery "
                     "(lower is better)", categories, column("burst", "cpu_us_per_delivery"),
                     "CPU µs per delivery", log=True),
    ]  # fmt: skip
    paced = column("paced", "p50_ms")
    if any(v is not None for values in paced.values() for v in values):
        written.append(grouped_bars(
            "fanout_paced", f"IRC fan-out, paced (one line every {paced_interval_ms:g} ms): "
            "p50 latency (lower is better)", categories, paced, "p50 latency, ms", log=True,
        ))  # fmt: skip
    return written


def raft_commit(
    rows: Sequence[tuple[int, Mapping[str, float], Mapping[str, float]]],
) -> list[Path | None]:
    """Commits/s and p99 per cluster size, twistedchat and PySyncObj (from raft_commit)."""
    written = []
    categories = [f"{nodes} node{'s' if nodes > 1 else ''}" for nodes, _, _ in rows]
    for metric, name, title, ylabel in (
        ("commits_per_second", "raft_commits", "Raft commits per second (higher is better)",
         "commits/s"),
        ("p99_ms", "raft_p99", "Raft commit p99 latency (lower is better)", "p99 latency, ms"),
    ):  # fmt: skip
        series = {
            "twistedchat": [ours[metric] for _, ours, _ in rows],
            "PySyncObj": [base[metric] for _, _, base in rows],
        }
        written.append(grouped_bars(name, title, categories, series, ylabel, log=True))
    return written


def irc_commit(
    commits: Mapping[int, Mapping[str, Mapping[str, Any]]],
    lines: Mapping[str, Mapping[str, Any]],
) -> list[Path | None]:
    """Messages/s per system and sender count, and the one-line latencies (from irc_commit)."""
    written: list[Path | None] = []
    if commits:
        counts = sorted(commits)
        systems = list(dict.fromkeys(name for r in commits.values() for name in r))
        series = {
            name: [
                None
                if "error" in commits[n].get(name, {"error": ""})
                else float(commits[n][name]["messages_per_second"])
                for n in counts
            ]
            for name in systems
        }
        written.append(grouped_bars(
            "irc_commit_throughput", "Commits through IRC: messages per second (higher is better)",
            [f"{n} senders" for n in counts], series, "messages/s", log=True,
        ))  # fmt: skip
    measured = {name: r for name, r in lines.items() if "error" not in r}
    if measured:
        keys = {"receipt p50": "receipt_p50_ms", "receipt p99": "receipt_p99_ms",
                "echo p50": "echo_p50_ms", "echo p99": "echo_p99_ms"}  # fmt: skip
        series = {
            label: [None if r.get(key) is None else float(r[key]) for r in measured.values()]
            for label, key in keys.items()
        }
        categories = [name.replace(" (", "\n(") for name in measured]
        written.append(grouped_bars(
            "irc_commit_lines", "One line at a time: latency (lower is better)",
            categories, series, "ms", log=True,
        ))  # fmt: skip
    return written


def raft_concurrency(
    by_level: Mapping[int, Mapping[str, Mapping[str, Mapping[str, float]]]],
) -> list[Path | None]:
    """p99 per proposer count, one series per system and cluster size (from raft_commit)."""
    levels = sorted({int(level) for r in by_level.values() for level in r})
    if len(levels) < 2:
        return []
    series: dict[str, list[float | None]] = {}
    for system, label in (("twistedchat", "twistedchat"), ("pysyncobj", "PySyncObj")):
        for nodes, measured in by_level.items():
            series[f"{label}, {nodes} node{'s' if nodes > 1 else ''}"] = [
                measured[str(level)][system]["p99_ms"] if str(level) in measured else None
                for level in levels
            ]
    return [
        grouped_bars("raft_concurrency_p99", "Raft commit p99 by concurrent proposers "
                     "(lower is better)", [f"{level} proposers" for level in levels], series,
                     "p99 latency, ms", log=True),
    ]  # fmt: skip
