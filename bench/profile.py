"""Profile the schedq worker while it drains N jobs: ``python -m bench.profile [--jobs N]``.

py-spy samples the node's main process and its pool children (``--subprocesses``) for the
whole drain; the collapsed stacks are summarised as the share of samples under each frame
(inclusive) for the frames that matter, and the top frames by own time. Needs ptrace (root, or
``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import load
from bench.env import BenchEnv
from bench.nodes import SCHEDQ_APP, Node, backlog
from producers.client import Client

# Frames worth naming: schedq's own code and the calls that block on a server.
FOCUS = ("(worker/", "(shared/", "(producers/", "Connection.wait (psycopg", "(celery/app/trace")


def summarise(collapsed: Path, top: int = 25) -> str:
    """Inclusive share per frame (counted once per stack) and own-time share per leaf frame."""
    incl: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    by_proc: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        by_proc[frames[0][:60]] += n
        for frame in set(frames[1:]):
            incl[frame] += n
        own[frames[-1]] += n
    out = [f"{total} samples"]
    out += [f"  process {p}: {100 * n / total:.1f}%" for p, n in by_proc.most_common()]
    out.append("inclusive, schedq frames and where they wait (share of all samples):")
    ours = [(f, n) for f, n in incl.most_common() if any(k in f for k in FOCUS)]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in ours[:top]]
    out.append("own time:")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--jobs", type=int, default=5000)
    p.add_argument("--out", type=Path, default=Path("bench/results/profile.txt"))
    p.add_argument(
        "--cpu", action="store_true", help="sample running threads only (CPU, not waits)"
    )
    args = p.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with BenchEnv() as env:
        tag = f"prof-{env.run_id}"
        load.fill_schedq(Client(submitter=tag), tag, args.jobs, 1000)
        node = Node(SCHEDQ_APP, env.log_dir, tag)
        raw = env.log_dir / "profile.collapsed"
        try:
            node.wait_ready()
            cmd = [spy, "record", "--pid", str(node.proc.pid), "--subprocesses"]
            cmd += [] if args.cpu else ["--idle"]
            cmd += ["--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking"]
            spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            client = env.redis()
            t0 = time.perf_counter()
            while backlog(client) != (0, 0):
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
            spy_proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            _, err = spy_proc.communicate(timeout=60)
            if not raw.exists():
                raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')}")
        finally:
            node.stop()
        report = f"{args.jobs} jobs in {seconds:.1f}s ({args.jobs / seconds:.0f}/s)\n"
        report += summarise(raw)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
