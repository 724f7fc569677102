"""The OpenAPI descriptions are valid (an independent validator) and complete: callers' tags, security,
summaries, descriptions, stable operation ids, an example on every body, one problem schema on every error."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from services.runtime.personal_data import contains_personal_number

CALLER_TAGS = {"apps", "partner", "ops", "core banking", "providers", "public", "system"}
PARTNER_SCHEMES = {"partner_id", "partner_key_id", "partner_timestamp", "partner_nonce", "partner_signature"}
# a stable id names what the operation does, in snake_case words: never FastAPI's generated
# `<function>_<path>_<method>` (`operator_token_v1_ops_token_post`)
OPERATION_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
GENERATED = re.compile(r"(?:^|_)(?:v1|api)(?:_|$)|__|_(?:get|post|put|patch|delete)$")
PROBLEM_JSON = "application/problem+json"
# the routes anyone may call: sign-in (the credentials are in the body), keys, documents, health, links
PUBLIC_OPERATIONS = {
    "check_liveness",
    "check_readiness",
    "list_problem_types",
    "get_problem_type",
    "get_openid_configuration",
    "get_token_keys",
    "issue_operator_token",
    "sign_in_customer",
    "redeem_recognition_ticket",
    "follow_link",
    "record_link_view",
}
SECURITY_BY_TAG = {
    "apps": [{"app_token"}],
    "partner": [PARTNER_SCHEMES],
    "ops": [{"operator_token"}, {"operator_oauth2"}],
    "core banking": [{"core_system", "core_key_id", "core_timestamp", "core_nonce", "core_signature"}],
    "providers": [{"webhook_id", "webhook_timestamp", "webhook_signature"}],
}
PROBLEM_REF = "#/components/schemas/Problem"
ERROR_STATUSES = {"401", "403", "404", "409", "413", "415", "422", "429", "431", "503", "504"}


@pytest.fixture(scope="module")
def document(openapi_gateway: httpx.Client) -> dict[str, Any]:
    response = openapi_gateway.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def partner_document(openapi_gateway: httpx.Client) -> dict[str, Any]:
    response = openapi_gateway.get("/v1/partner/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def caller_of(path: str) -> str:
    for prefix, tag in (
        ("/v1/apps/", "apps"),
        ("/v1/partner/", "partner"),
        ("/v1/ops/", "ops"),
        ("/v1/core/", "core banking"),
        ("/v1/providers/", "providers"),
        ("/r/", "public"),
    ):
        if path.startswith(prefix):
            return tag
    return "system"


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, _, kind, name = node["$ref"].split("/", 3)
        node = document["components"][kind][name]
    return node


def test_both_documents_pass_an_independent_openapi_validator(
    document: dict[str, Any], partner_document: dict[str, Any]
) -> None:
    validate(document)
    validate(partner_document)


def test_operation_ids_are_stable_snake_case_names_and_unique(document: dict[str, Any]) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations(document)]
    assert len(ids) > 100
    malformed = [i for i in ids if not OPERATION_ID.fullmatch(i) or GENERATED.search(i)]
    assert not malformed, malformed
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    assert "redeem_benefit" in ids and "issue_operator_token" in ids


def test_schema_names_are_model_names(document: dict[str, Any]) -> None:
    """Two models of one name get FastAPI's module-path names (`gateway__routes__..._KeyRotation`)."""
    generated = [
        name for name in document["components"]["schemas"] if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)
    ]
    assert not generated, generated


def test_every_operation_has_a_summary_a_description_and_one_caller_tag(document: dict[str, Any]) -> None:
    tags = {tag["name"]: tag for tag in document["tags"]}
    assert set(tags) == CALLER_TAGS
    assert all(tag.get("description") for tag in tags.values())
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        assert op.get("summary", "").strip(), where
        assert op.get("description", "").strip(), where
        assert len(op.get("tags", [])) == 1 and op["tags"][0] in CALLER_TAGS, where


def test_tags_and_security_follow_the_caller(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["app_token"]["scheme"] == "bearer" and schemes["operator_token"]["scheme"] == "bearer"
    assert schemes["operator_oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/v1/ops/token"
    assert {schemes[name]["name"] for name in PARTNER_SCHEMES} == {
        "X-Lattice-Partner",
        "X-Lattice-Key-Id",
        "X-Lattice-Timestamp",
        "X-Lattice-Nonce",
        "X-Lattice-Signature",
    }
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        tag = op["tags"][0]
        assert tag == caller_of(path), where
        security = [set(requirement) for requirement in op.get("security", [])]
        if op["operationId"] in PUBLIC_OPERATIONS:
            assert not security, where
            continue
        assert security == SECURITY_BY_TAG[tag], where
        assert {"401", "429"} <= set(op["responses"]), where


def test_every_request_body_has_an_example_that_fits_its_schema(document: dict[str, Any]) -> None:
    bodies = 0
    for path, method, op in operations(document):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            where = f"{method.upper()} {path} {media_type}"
            bodies += 1
            examples = [e["value"] for e in media.get("examples", {}).values()]
            examples += [media["example"]] if "example" in media else []
            assert examples, where
            schema = {**resolve(document, media["schema"]), "components": document["components"]}
            for example in examples:
                jsonschema.validate(
                    example,
                    schema,
                    cls=jsonschema.Draft202012Validator,
                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
                )
                assert not contains_personal_number(str(example)), where
    assert bodies > 40


def test_every_error_is_the_one_problem_schema(document: dict[str, Any]) -> None:
    """Two kinds of error body besides: readiness's 503 is its report (every service's state, for load
    balancers and people), and the OAuth token routes answer form-encoded requests with OAuth error
    bodies (RFC 6749: 400, and 401 `invalid_client`) as OAuth clients expect."""
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert {"type", "title", "status", "code", "detail", "instance"} <= set(problem["required"])
    assert {"request_id", "trace_id", "errors"} <= set(problem["properties"])
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            if not status.startswith(("4", "5")) or (op["operationId"], status) == ("check_readiness", "503"):
                continue
            content = resolve(document, response)["content"]
            if status == "400":  # OAuth's invalid_request & co.: no other route answers 400
                assert set(content) == {"application/json"} and "/token" in path, where
                continue
            assert content[PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}, where
            assert set(content) <= {PROBLEM_JSON, "application/json"}, where
            if "application/json" in content:  # an OAuth error body beside the problem
                assert (
                    "/token" in path
                    and "error" in resolve(document, content["application/json"]["schema"])["required"]
                )


def test_statuses_follow_each_route_s_mechanism(document: dict[str, Any]) -> None:
    by_id = {op["operationId"]: set(op["responses"]) for _, _, op in operations(document)}
    # an operator route that calls a service, with a body and an Idempotency-Key
    assert {"401", "403", "404", "409", "413", "415", "422", "429", "503"} <= by_id["draft_benefit"]
    # a partner route reading by id: signature, rate limit, the service's not found
    assert {"401", "403", "404", "429", "503"} <= by_id["get_binding"]
    assert not {"413", "415"} & by_id["get_binding"]
    # liveness depends on nothing: no credentials, no rate limit, no service
    assert by_id["check_liveness"] & ERROR_STATUSES == {"431"}


def test_the_partner_document_holds_the_partner_operations_only(
    document: dict[str, Any], partner_document: dict[str, Any]
) -> None:
    partner_paths = {path for path in document["paths"] if path.startswith("/v1/partner/")}
    assert partner_paths and set(partner_document["paths"]) == partner_paths
    assert partner_document["paths"] == {path: document["paths"][path] for path in partner_paths}
    assert set(partner_document["components"]["securitySchemes"]) == PARTNER_SCHEMES
    assert [tag["name"] for tag in partner_document["tags"]] == ["partner"]
    refs = re.findall(r'"\$ref": "#/components/(\w+)/([\w-]+)"', str(partner_document).replace("'", '"'))
    for kind, name in refs:
        assert name in partner_document["components"][kind], (kind, name)
    # nothing of the staff or customer API leaks into what is handed to partners
    assert "OperatorTokenRequest" not in partner_document["components"]["schemas"]
    assert "BenefitDraft" not in partner_document["components"]["schemas"]
