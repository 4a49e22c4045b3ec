"""Every domain job kind has a documented JSON example, and every example is a valid payload."""

from __future__ import annotations

import pytest

from shared.kinds import get_kind
from shared.payloads import parse_payload
from tests.doc_examples import EXAMPLES, ORDER, example


def test_every_kind_has_an_example_and_every_example_a_kind() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(ORDER)


@pytest.mark.parametrize("kind", ORDER)
def test_example_parses_as_its_kind(kind: str) -> None:
    parse_payload(get_kind(kind).payload, example(kind))
