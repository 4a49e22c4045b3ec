"""Where a calendar import's time goes: ``python -m bench.calendar_profile [--events N]``.

Runs the calendar figure's import (``bench.figures.calendar_import.time_import``: a first sync,
an unchanged re-sync and a re-sync of the changed feed) once under cProfile and prints the
share of each step of ``sync_calendar`` in the first sync and in the changed re-sync, then the
functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from bench.env import BenchEnv
from bench.figures.calendar import HORIZON_DAYS, bare_parse, feed

# The steps of an import, by the function that does each (file fragment, function name).
STEPS = (
    ("HTTP fetch (egress)", "ics_feed.py", "fetch"),
    ("parse (icalendar)", "ical_parse.py", "parse_calendar"),
    ("  checks of every component", "ical_parse.py", "_check_components"),
    ("series digests", "ical_series.py", "series_digests"),
    ("expansion (recurring-ical-events)", "ical_busy.py", "_occurrences"),
    ("busy instances from occurrences", "ical_busy.py", "_busy"),
    ("kept series: load", "series_store.py", "load"),
    ("kept series: save", "series_store.py", "save"),
    ("busy rows: diff and write", "busy_store.py", "apply"),
    ("conflicts with appointments", "busy_store.py", "conflicts"),
)


def _cumulative(stats: pstats.Stats, file_part: str, name: str) -> float:
    total = 0.0
    for (filename, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and filename.endswith(file_part):
            total += row[3]
    return total


def _sync_total(stats: pstats.Stats) -> float:
    return _cumulative(stats, "sync.py", "sync_calendar")


def report(label: str, prof: cProfile.Profile) -> str:
    stats = pstats.Stats(prof)
    total = _sync_total(stats)
    out = [f"{label}: sync_calendar {total:.2f} s under the profiler"]
    for title, file_part, name in STEPS:
        seconds = _cumulative(stats, file_part, name)
        if seconds:
            out.append(f"  {title:<36} {seconds:6.2f} s  {100 * seconds / total:5.1f}%")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
    out.append(buf.getvalue())
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.calendar_profile")
    p.add_argument("--events", type=int, default=10_000)
    args = p.parse_args()
    data = feed(args.events)
    with BenchEnv():
        from bench.figures import calendar_import

        parse_seconds = min(bare_parse(data) for _ in range(3))
        plain = calendar_import.time_import(data, HORIZON_DAYS)
        profiles: list[cProfile.Profile] = []
        real_run = calendar_import._run

        def profiled(kind: str, payload: dict[str, object]) -> dict[str, object]:
            # sync_calendar runs three times: first sync, unchanged re-sync, changed re-sync.
            prof = cProfile.Profile(time.perf_counter)
            if kind == "sync_calendar":
                profiles.append(prof)
                prof.enable()
            try:
                return real_run(kind, payload)
            finally:
                prof.disable()

        calendar_import._run = profiled
        calendar_import.time_import(data, HORIZON_DAYS)
    print(f"{args.events:,}-event feed, without the profiler: first sync {plain.first:.2f} s, "
          f"changed re-sync {plain.changed:.2f} s ({plain.reused} series reused); "
          f"bare icalendar parse {parse_seconds:.2f} s\n")  # fmt: skip
    print(report("first sync", profiles[0]))
    print(report("changed re-sync", profiles[2]))


if __name__ == "__main__":
    main()
