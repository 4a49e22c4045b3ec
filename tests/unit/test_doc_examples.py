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
    data = example(kind)
    model = get_kind(kind).payload
    parsed = parse_payload(model, data)
    # Every documented field is one the kind reads (none dropped or ignored on the way in)...
    assert parsed.model_fields_set == set(data)
    assert parsed.model_dump(mode="json", include=set(data)).keys() == data.keys()
    # ...and what a worker stores (the normalised JSON) parses back to the same payload.
    assert parse_payload(model, parsed.model_dump(mode="json")) == parsed
