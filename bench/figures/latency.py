"""placeholder"""

from bench.context import Context
from bench.report import Figure


def run(ctx: Context) -> Figure:
    return Figure("latency", ctx.command("latency"), notes=["not implemented yet"])
