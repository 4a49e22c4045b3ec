"""Schemathesis against the gateway's OpenAPI document, calling the live server as each role.

Every operation is called with generated inputs (a bounded number of examples, so this stays
well under a minute): no answer is a 5xx, and every answer has a documented status, content
type, headers and body schema. The document is the one the server serves (the first test
proves they are equal); it is built at import because schemathesis' fixture-loaded schemas do
not run under this pytest. The event stream never ends by design; its own test covers it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from producers.gateway.app import create_app
from tests.gateway_support import ApiUser, GatewayProcess, make_user

DOCUMENT = create_app().openapi()
# Bounded: explicit examples plus max_examples fuzzed cases per operation; the coverage phase
# (hundreds of boundary cases per operation) is left to deliberate schemathesis runs.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(path="/v1/events")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = ("submitter", "reader", "operator", "admin")


@pytest.fixture(scope="module")
def users(gateway: GatewayProcess) -> dict[str, ApiUser]:
    return {
        "submitter": make_user("submitter", ["set_working_plan", "book_appointment"], ["d-*"]),
        "reader": make_user("reader", doctors=["d-*"]),
        "operator": make_user("operator"),
        "admin": make_user("admin"),
    }


def _content(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    return data.encode() if isinstance(data, str) else data


def test_the_served_document_is_the_one_tested(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, users: dict[str, ApiUser], gateway: GatewayProcess
) -> None:
    # Each generated request as every role (a parametrized role would multiply collection).
    # Sent with httpx: schemathesis' requests transport trips over the urllib3-future that
    # caldav's niquests installs in place of urllib3.
    with httpx.Client(timeout=30) as client:
        for role in ROLES:
            kwargs = case.as_transport_kwargs(base_url=gateway.url, headers=users[role].headers)
            headers = {  # as requests sends them: non-ASCII values as their UTF-8 bytes
                k: v.encode() if isinstance(v, str) else v
                for k, v in (kwargs.get("headers") or {}).items()
            }
            response = client.request(
                kwargs["method"],
                kwargs["url"],
                headers=headers,
                params=kwargs.get("params"),
                content=_content(kwargs),
            )
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))
