"""placeholder"""

from bench.context import Context
from bench.report import Figure


def run(ctx: Context) -> Figure:
    return Figure("memory", ctx.command("memory"), notes=["not implemented yet"])
