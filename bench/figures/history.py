"""placeholder"""

from bench.context import Context
from bench.report import Figure


def run(ctx: Context) -> Figure:
    return Figure("history", ctx.command("history"), notes=["not implemented yet"])
