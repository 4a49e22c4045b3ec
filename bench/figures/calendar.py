"""placeholder"""

from bench.context import Context
from bench.report import Figure


def run(ctx: Context) -> Figure:
    return Figure("calendar", ctx.command("calendar"), notes=["not implemented yet"])
