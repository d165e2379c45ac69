"""Schemathesis checks of our own, loaded by run.sh through SCHEMATHESIS_HOOKS=conformance_checks.

- `error_message_conformance`: every 4xx and 5xx answer is Connect's ErrorMessage,
  `{"error_code": <the HTTP status>, "message": "<text>"}` as application/json (GET /health's 500 and 503
  are Health bodies instead). Connect's own spec cannot say this (it documents only a `default`
  answer per operation), so this is how its error bodies get checked at all.
- `success_response_schema_conformance`: Schemathesis' response_schema_conformance, for answers below
  400 only. connect.toml uses it on the operations of Connect's spec whose `default` answer is an array or
  a map of strings: an ErrorMessage (an object with an integer `error_code`) can never match it, so the
  built-in check would fail on every 404 a correct server gives. Their error bodies are checked by
  `error_message_conformance`.
"""

import json

import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance


def _content_type(response):
    values = response.headers.get("content-type") or []
    return values[0].split(";")[0].strip().lower() if values else None


@schemathesis.check
def error_message_conformance(ctx, response, case):
    """A 4xx/5xx answer is `{"error_code": <status>, "message": "..."}` (application/json)."""
    status = response.status_code
    if status < 400:
        return None
    if case.operation.path == "/health" and status in (500, 503):
        return None
    where = f"{status} answer to {response.request.method} {response.request.path_url}"
    content_type = _content_type(response)
    if content_type != "application/json":
        raise AssertionError(
            f"{where}: Content-Type is {content_type!r}, not application/json; body: {response.content[:200]!r}"
        )
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{where}: the body is not JSON ({e}): {response.content[:200]!r}") from None
    if not isinstance(body, dict) or set(body) != {"error_code", "message"}:
        raise AssertionError(f'{where}: the body is not {{"error_code", "message"}}: {body!r}')
    if type(body["error_code"]) is not int or body["error_code"] != status:
        raise AssertionError(f"{where}: error_code is {body['error_code']!r}, the status is {status}")
    if not isinstance(body["message"], str):
        raise AssertionError(f"{where}: message is not a string: {body['message']!r}")
    return None


@schemathesis.check
def success_response_schema_conformance(ctx, response, case):
    """response_schema_conformance for answers below 400 (see the module's doc)."""
    if response.status_code >= 400:
        return None
    return response_schema_conformance(ctx, response, case)
