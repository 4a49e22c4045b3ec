"""The README's code blocks, in order, with the reason a block is not run (if it says one).

A block is skipped only when the line before its fence says so:
``<!-- readme-test: skip: <why> -->``, or when it sits between ``<!-- gateway-NAME:start -->``
markers, which tests/e2e/test_readme_gateway.py reads and runs against a real gateway.
tests/unit/test_readme.py checks that every shell and Python block is either run or skipped
with a reason; tests/e2e/test_readme.py runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SHELL = {"sh", "bash", "shell", "console"}
RUNNABLE = SHELL | {"python"}
_SKIP = re.compile(r"^<!-- readme-test: skip: (?P<why>.+?) -->$")
_GATEWAY = re.compile(r"^<!-- gateway-(?P<name>[\w-]+):start -->$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    skip: str | None  # why it is not run, or None

    @property
    def first(self) -> str:
        return self.code.splitlines()[0] if self.code else ""


def blocks(text: str | None = None) -> list[Block]:
    lines = (text if text is not None else README.read_text(encoding="utf-8")).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        before = lines[start - 1].strip() if start else ""
        skip = _SKIP.match(before)
        why = skip and skip["why"]
        gateway = _GATEWAY.match(before)
        if gateway:
            why = f"needs a gateway and a token; test_readme_gateway.py runs it ({gateway['name']})"
        out.append(Block(start + 1, fence.group(1), "\n".join(body) + "\n", why))
        i += 1
    return out


def script(found: list[Block]) -> str:
    """One bash script running the blocks to run, in order (variables carry over)."""
    parts = ["set -euo pipefail"]
    for block in found:
        if block.skip is not None or block.lang not in RUNNABLE:
            continue
        parts.append(f'echo "### README.md line {block.line}" >&2')
        if block.lang == "python":
            parts.append(f"python - <<'README_PYTHON'\n{block.code}README_PYTHON")
        else:
            parts.append(block.code)
    return "\n".join(parts) + "\n"
