"""Worker nodes the benchmark starts and stops by pid, and how it watches them drain a queue.

The topology is the README's: one node ``-Q schedule,calendar -c 2`` with the prefork pool,
task events on (``-E``), log level INFO. Only the Celery app differs between systems.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import redis

from schedq.processes import spawn, stop
from shared.ledger.publish import producer_app
from shared.settings import get_settings

SCHEDQ_APP = "bench.schedq_app"
BASELINE_APP = "bench.baseline"
CEILING_APP = "bench.ceiling_app"
QUEUE = "schedule"
# kombu's Redis transport parks delivered-but-unacked messages (acks_late) in this hash.
UNACKED = "unacked"


# The README's topology; ``python -m bench --pool/--concurrency`` changes it for every node of
# an invocation (both systems alike), to compare worker-side configurations.
TOPOLOGY = {"pool": "prefork", "concurrency": 2}


class Node:
    def __init__(
        self,
        app: str,
        log_dir: Path,
        name: str,
        env: Mapping[str, str] | None = None,
        events: bool = True,
        loglevel: str = "INFO",
    ) -> None:
        self.name = f"{name}@bench"
        pool, concurrency = str(TOPOLOGY["pool"]), str(TOPOLOGY["concurrency"])
        args = ["celery", "-A", app, "worker", "-Q", "schedule,calendar", "-c", concurrency]
        args += ["-P", pool, *(["-E"] if events else []), "-n", self.name, "--loglevel", loglevel]
        args += ["--without-mingle", "--without-gossip"]
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] = spawn(args, dict(env or {}), self.log_path)

    def wait_ready(self, timeout: float = 60.0) -> None:
        app = producer_app(get_settings())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited early:\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker {self.name} not ready after {timeout}s:\n{self.log()}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def rss_kib(self) -> dict[str, list[int]]:
        """Resident set size of the main process and of each pool child, in KiB."""
        return {
            "main": [rss_kib(self.proc.pid)],
            "children": [rss_kib(pid) for pid in self.children()],
        }

    def cpu_seconds(self) -> float:
        """User + system CPU of the main process and its live pool children."""
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *self.children()])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop(self.proc, timeout=30)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backlog(client: redis.Redis) -> tuple[int, int]:
    pipe = client.pipeline(transaction=False)
    pipe.llen(QUEUE)
    pipe.hlen(UNACKED)
    queued, unacked = pipe.execute()
    return int(queued), int(unacked)


def drain_window(
    client: redis.Redis, total: int, node: Node, timeout: float, poll: float = 0.02
) -> tuple[float, float]:
    """Seconds from the first message taken to the last one acked (queue and unacked empty).

    The clock starts when the queue first shrinks, so worker start-up is not counted, and stops
    when every message is acked, so a job counts only once its task returned. Returns
    (seconds, CPU seconds the node's processes used in that window).
    """
    started: float | None = None
    cpu0 = 0.0
    deadline = time.monotonic() + timeout
    while True:
        queued, unacked = backlog(client)
        now = time.perf_counter()
        if started is None and queued < total:
            started, cpu0 = now, node.cpu_seconds()
        if started is not None and queued == 0 and unacked == 0:
            return now - started, node.cpu_seconds() - cpu0
        if time.monotonic() > deadline or node.proc.poll() is not None:
            raise RuntimeError(
                f"{node.name}: {queued} queued, {unacked} unacked after {timeout}s:\n{node.log()}"
            )
        time.sleep(poll)
