"""placeholder"""

from bench.context import Context
from bench.report import Figure


def run(ctx: Context) -> Figure:
    return Figure("submit", ctx.command("submit"), notes=["not implemented yet"])
