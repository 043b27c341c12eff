"""The OpenAPI document: every JSON operation is described, carries an example, answers errors as
problem documents, and HTML pages stay out of it."""

from typing import Any

import pytest

from compliance.config import Settings
from compliance.main import create_app


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'empty.db'}"
    app = create_app(Settings(environment="test", secret_key="contract-test", database_url=url))
    return app.openapi()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1")
    ]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _has_example(schema: dict[str, Any], node: dict[str, Any], depth: int = 0) -> bool:
    """An example on the node, on what it refers to, or on the items or variants it holds."""
    if depth > 4:
        return False
    if "example" in node or node.get("examples"):
        return True
    if "$ref" in node:
        return _has_example(schema, _resolve(schema, node), depth + 1)
    children = [node.get("items", {})] + node.get("anyOf", []) + node.get("allOf", [])
    return any(_has_example(schema, child, depth + 1) for child in children if child)


def _examples_of(schema: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    found = []
    for status, response in operation["responses"].items():
        for media, content in response.get("content", {}).items():
            if status.startswith("2") and (
                "example" in content or _has_example(schema, content.get("schema", {}))
            ):
                found.append(f"response {status} {media}")
    for media, content in operation.get("requestBody", {}).get("content", {}).items():
        if "example" in content or _has_example(schema, content.get("schema", {})):
            found.append(f"request {media}")
    for parameter in operation.get("parameters", []):
        if (
            "example" in parameter
            or parameter.get("examples")
            or _has_example(schema, parameter.get("schema", {}))
        ):
            found.append(f"parameter {parameter['name']}")
    return found


def test_the_api_has_operations_and_pages_are_left_out(schema):
    paths = set(schema["paths"])
    assert len(_operations(schema)) >= 20
    assert not {"/", "/sign-in", "/bodies", "/obligations/{obligation_id}"} & paths
    health = {"/healthz", "/readyz"}
    assert all(p.startswith("/api/v1") or p in health for p in paths), sorted(paths)


def test_every_operation_is_described(schema):
    undescribed = [
        f"{method} {path}"
        for method, path, operation in _operations(schema)
        if len(operation.get("description", "").strip()) < 20
    ]
    assert not undescribed, f"operations without a description: {undescribed}"


def test_every_operation_carries_an_example(schema):
    bare = [
        f"{method} {path}"
        for method, path, operation in _operations(schema)
        if not _examples_of(schema, operation)
    ]
    assert not bare, f"operations without an example: {bare}"


def test_json_responses_carry_an_example(schema):
    bare = [
        f"{method} {path} {status}"
        for method, path, operation in _operations(schema)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and "application/json" in response.get("content", {})
        and not _has_example(schema, response["content"]["application/json"].get("schema", {}))
        and "example" not in response["content"]["application/json"]
    ]
    assert not bare, f"JSON responses without an example: {bare}"


def test_errors_are_documented_as_problem_documents(schema):
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path} documents FastAPI's own 422"
        problem = responses["4XX"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}
        assert operation["security"] == [{"bearer": []}, {"session": []}]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_request_bodies_refuse_fields_outside_the_schema(schema):
    loose = []
    for method, path, operation in _operations(schema):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            body = _resolve(schema, content.get("schema", {}))
            if media == "application/json" and body.get("additionalProperties") is not False:
                loose.append(f"{method} {path}")
    assert not loose, f"JSON bodies that accept unknown fields: {loose}"
