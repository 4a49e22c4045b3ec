"""``python -m bench [figure ...] [--size tiny|small|full] [--runs N]``: run figures, write
``bench/results/<date>.json`` and ``<date>.md``."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import nodes
from bench.context import SIZES, Context
from bench.env import BenchEnv
from bench.report import Figure, machine, source, write

# Order matters: latency reuses throughput's max rate, memory reuses its RSS readings.
FIGURES = (
    "throughput",
    "ceiling",
    "hotkey",
    "submit",
    "latency",
    "history",
    "calendar",
    "memory",
    "gateway",
)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "figures",
        nargs="*",
        choices=[*FIGURES, []],
        metavar="figure",
        help=f"any of {', '.join(FIGURES)} (default: all)",
    )
    p.add_argument("--size", choices=sorted(SIZES), default="full")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pool", default="prefork", help="worker pool of every node (README: prefork)")
    p.add_argument("--concurrency", type=int, default=2, help="per node (README: 2)")
    p.add_argument("--out", help="file name stem for the results (default: UTC date and time)")
    p.add_argument("--log-dir", type=Path, help="where worker logs go (default: a temp dir)")
    p.add_argument("--results-dir", type=Path, help="where results go (default: bench/results)")
    return p.parse_args(argv)


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so worker nodes, redis-server and databases are removed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> Path:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    wanted = [f for f in FIGURES if f in (args.figures or FIGURES)]
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "size": args.size,
        "runs": args.runs,
        "figures_run": wanted,
        "topology": {"pool": args.pool, "concurrency": args.concurrency},
        "machine": machine(),
        "source": source(),
    }
    nodes.TOPOLOGY.update(pool=args.pool, concurrency=args.concurrency)
    figures: list[Figure] = []
    started = time.monotonic()
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    with BenchEnv(args.log_dir) as env:
        print(f"bench: database and redis ready, worker logs in {env.log_dir}", flush=True)
        ctx = Context(env, SIZES[args.size], args.runs)
        for name in wanted:
            t0 = time.monotonic()
            print(f"bench: {name} ...", flush=True)
            module = importlib.import_module(f"bench.figures.{name}")
            figures.append(module.run(ctx))
            print(f"bench: {name} done in {time.monotonic() - t0:.0f}s", flush=True)
    meta["seconds"] = round(time.monotonic() - started, 1)
    path = write(meta, figures, args.out, args.results_dir)
    print(path.read_text())
    print(f"bench: results in {path} and {path.with_suffix('.json')}")
    return path


if __name__ == "__main__":
    main()
