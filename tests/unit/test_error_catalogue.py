"""The error catalogue is THE one table: the docs list it, product code raises only its codes.

Source is read with ``ast`` (no imports of job code), so a code raised anywhere, including in
modules a unit test never runs, is checked.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import CATALOGUE, NOT_FOUND, Category, error
from shared.payloads import _CODES as SHAPE_CODES
from worker.pipeline.error_map import _SQLSTATE
from worker.reliability.poison import CODES as POISON_CODES

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("shared", "worker", "producers", "schedq")
CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
# Callables whose first argument is an error code (the catalogue's builder, the legacy class
# and the local helpers that still pass a code through).
CODE_TAKERS = {"error", "SchedqError", "_err", "_fixed", "_coded", "ics_error", "_network"}
# Where a SchedqError(...) literal may be built: only the catalogue's own builder.
LITERALS_ALLOWED = {"shared/errors.py"}
# Words that reveal internals; a message is for the person who sent the job.
INTERNALS = ("sql", "traceback", "psycopg", "redis://", "postgresql", "celery", "kombu", "stack")


# mutmut (bash .ci/mutation) runs these tests in a copy of the product whose modules also hold
# every mutated copy of a function, named ``<function>__mutmut_<n>``: their altered literals
# are not codes the product raises. The product itself has no function so named.
_MUTANT_COPY = re.compile(r"__mutmut_\d+$")


def _without_mutant_copies(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [  # type: ignore[attr-defined]
                n
                for n in body
                if not (
                    isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                    and _MUTANT_COPY.search(n.name)
                )
            ]
    return tree


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), rel)
            yield rel, _without_mutant_copies(tree)


SOURCES = list(_sources())


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _code_arg(call: ast.Call) -> ast.expr | None:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "code"), None)


def _codes_in(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value)
    }


def _function_of(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    """Each node -> the innermost function holding it (or the module)."""
    owner: dict[ast.AST, ast.AST] = {}

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            owner[child] = scope
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, child if is_function else scope)

    visit(tree, tree)
    return owner


def _codes_of_arg(arg: ast.expr, scope: ast.AST) -> set[str]:
    """Literal codes of ``arg``; for a local variable, what it is assigned in its function
    (``code = "A" if ... else "B"; SchedqError(code, ...)``)."""
    if not isinstance(arg, ast.Name):
        return _codes_in(arg)
    return {
        code
        for node in ast.walk(scope)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == arg.id for t in node.targets)
        for code in _codes_in(node.value)
    }


def _calls(*names: str) -> Iterator[tuple[str, ast.Call, ast.AST]]:
    """(file, call, the function holding it) for every call of one of ``names``."""
    for rel, tree in SOURCES:
        owner = _function_of(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node) in names:
                yield rel, node, owner[node]


def _call_codes(*names: str) -> Iterator[tuple[str, str]]:
    for rel, call, scope in _calls(*names):
        arg = _code_arg(call)
        for code in _codes_of_arg(arg, scope) if arg is not None else ():
            yield rel, code


def raised_codes() -> dict[str, str]:
    """Every error code literal product code raises -> the first file raising it."""
    found: dict[str, str] = {}
    for rel, code in _call_codes(*CODE_TAKERS):
        found.setdefault(code, rel)
    for rel, code in _call_codes("Refusal"):  # poison refusals become POISON_<code>
        found.setdefault(f"POISON_{code}", rel)
    for rel, call, _ in _calls("not_found"):
        what = call.args[0]
        assert isinstance(what, ast.Constant), f"{rel}:{call.lineno}: not_found needs a literal"
        assert what.value in NOT_FOUND, f"{rel}:{call.lineno}: no code for {what.value!r}"
        found.setdefault(NOT_FOUND[what.value], rel)
    for code in _SQLSTATE.values():
        found.setdefault(code, "worker/pipeline/error_map.py")
    return found


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def documented() -> dict[str, list[str]]:
    """docs/errors.md's table rows: code -> [category, severity, retryable, message]."""
    rows: dict[str, list[str]] = {}
    for line in (ROOT / "docs/errors.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Z0-9_]+)` \|(.*)\|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is listed twice"
            cells = [c.strip().replace("\\|", "|") for c in match.group(2).split(" | ")]
            rows[match.group(1)] = cells
    return rows


def test_the_docs_list_exactly_the_catalogue() -> None:
    rows = documented()
    assert set(rows) - set(CATALOGUE) == set(), "documented but not in CATALOGUE"
    assert set(CATALOGUE) - set(rows) == set(), "in CATALOGUE but not in docs/errors.md"
    for code, (category, severity, retryable, message) in rows.items():
        entry = CATALOGUE[code]
        want = entry.category.value if entry.category else "(its cause's)"
        assert (category, severity, retryable, message) == (
            want,
            entry.severity.value,
            "yes" if entry.retryable else "no",
            entry.message,
        ), code


def test_every_code_product_code_raises_is_in_the_catalogue() -> None:
    found = raised_codes()
    # The scan must see every family, or it proves nothing.
    for sample in ("WORKER_LOST", "DOCTOR_NOT_FOUND", "CALENDAR_TIMEOUT", "CALENDAR_EDIT_RACE"):
        assert sample in found
    assert {f"POISON_{code}" for code in POISON_CODES} <= set(found)
    missing = {code: where for code, where in found.items() if code not in CATALOGUE}
    assert missing == {}


def test_every_poison_refusal_code_has_its_entry() -> None:
    # poison.record builds error(f"POISON_{code}") from these at run time.
    assert {f"POISON_{code}" for code in POISON_CODES} <= set(CATALOGUE)


def test_no_schedq_error_literals_outside_the_builder() -> None:
    offenders = [
        f"{rel}:{call.lineno}"
        for rel, call, _ in _calls("SchedqError")
        if rel not in LITERALS_ALLOWED
    ]
    assert offenders == []


def test_call_sites_fill_every_template_field() -> None:
    checked = 0
    for rel, call, _ in _calls("error", "ics_error"):
        arg = _code_arg(call)
        if not (isinstance(arg, ast.Constant) and arg.value in CATALOGUE):
            continue
        if any(k.arg is None for k in call.keywords):  # **fields: not statically visible
            continue
        given = {k.arg for k in call.keywords if k.arg}
        if _name(call) == "ics_error":
            given |= {"problem"}  # its message argument
        missing = _fields(CATALOGUE[arg.value].message) - given
        assert missing == set(), f"{rel}:{call.lineno} {arg.value} lacks {missing}"
        needs_category = CATALOGUE[arg.value].category is None
        assert ("category" in given) == needs_category, f"{rel}:{call.lineno}"
        checked += 1
    assert checked > 20
    for code in NOT_FOUND.values():
        assert _fields(CATALOGUE[code].message) <= {"ident"}
    for code in [*_SQLSTATE.values(), *(f"POISON_{c}" for c in POISON_CODES)]:
        assert _fields(CATALOGUE[code].message) == set(), code


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_entry_builds_a_complete_message(code: str) -> None:
    entry = CATALOGUE[code]
    fields = {name: "x" for name in _fields(entry.message)}
    category = Category.DATABASE if entry.category is None else None
    err = error(code, category=category, **fields)
    assert "{" not in err.message and "}" not in err.message
    assert err.code == code and err.retryable is entry.retryable
    assert err.category is (entry.category or Category.DATABASE)
    assert err.message.strip() and err.message == err.message.strip()


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_messages_reveal_no_internals(code: str) -> None:
    text = CATALOGUE[code].message.lower()
    assert [word for word in INTERNALS if word in text] == []


def test_an_inherited_category_must_be_given_and_only_then() -> None:
    with pytest.raises(ValueError):
        error("RETRIES_EXHAUSTED")
    with pytest.raises(ValueError):
        error("WORKER_LOST", category=Category.NETWORK)
    assert error("RETRIES_EXHAUSTED", category=Category.NETWORK).category is Category.NETWORK


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(KeyError):
        error("NO_SUCH_CODE")


def _violation_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for rel, code in _call_codes("Violation"):
        if rel.startswith("shared/"):
            found.setdefault(code, rel)
    for code in [*SHAPE_CODES.values(), "TYPE_INVALID", "VALUE_INVALID"]:
        found.setdefault(code, "shared/payloads.py")
    return found


def test_docs_domain_lists_every_violation_code() -> None:
    domain = (ROOT / "docs/domain.md").read_text(encoding="utf-8")
    found = _violation_codes()
    assert {"SHIFT_OVERLAP", "APPOINTMENT_OVERLAP", "HOLIDAY_DATE_DUPLICATE"} <= set(found)
    missing = {code: rel for code, rel in found.items() if f"`{code}`" not in domain}
    assert missing == {}
