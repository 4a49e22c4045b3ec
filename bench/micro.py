import time, uuid, sys, collections
from sqlalchemy import event
from bench.env import BenchEnv
from bench import load
from producers.client import Client
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
import os
if os.environ.get("NOPING"):
    import shared.db.base as b
    _ce = b.create_engine
    b.create_engine = lambda url, **kw: _ce(url, **{**kw, "pool_pre_ping": False})
with BenchEnv() as env:
    from shared.db.base import get_engine
    from shared.settings import get_settings
    from worker.executor import run_delivery
    import worker.app  # noqa
    tag = "micro"
    views = []
    c = Client(submitter=tag)
    reqs = list(load.requests(tag, N, 500))
    for i in range(0, N, 500):
        views += c.submit_many(reqs[i:i+500])
    env.redis().delete("schedule")
    stmts = collections.Counter()
    eng = get_engine()
    @event.listens_for(eng, "before_cursor_execute")
    def _c(conn, cursor, statement, params, context, executemany):
        stmts[statement.split()[0]] += 1
    commits = collections.Counter()
    @event.listens_for(eng, "commit")
    def _cm(conn): commits["commit"] += 1
    s = get_settings()
    ids = [uuid.UUID(v.id) for v in views]
    import cProfile, pstats, os
    prof = cProfile.Profile() if os.environ.get("PROF") else None
    c0 = time.process_time()
    t0 = time.perf_counter()
    if prof: prof.enable()
    for j in ids:
        d = run_delivery(j, s)
        assert d.action == "succeeded", d
    if prof: prof.disable()
    dt = time.perf_counter() - t0
    if prof:
        st = pstats.Stats(prof); st.sort_stats("cumulative").print_stats(45)
    cpu = time.process_time() - c0
    print(f"{N} deliveries in {dt:.2f}s: {1000*dt/N:.2f} ms/job wall, {1000*cpu/N:.2f} ms/job CPU; per job:", {k: round(v/N,2) for k,v in (stmts+commits).items()})
