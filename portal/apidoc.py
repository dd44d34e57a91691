"""The OpenAPI 3.1 document of the JSON API (``GET /api/v1/openapi.json``), built from the routes.

Each API view carries its description beside its route and access rule (``@operation``); the
schemas it names are the ones the endpoint builds or validates its JSON with, held by the
module that owns the endpoint. :func:`build` walks the application's URL map (filled in
``create_app`` by the blueprints, the registry through which this lowest layer learns about
endpoints of the layers above), so:

* a route of the API without a description is an error (the build fails, and with it the test),
  never a silent gap;
* path parameters come from the rule itself (``<int:id>`` is an integer);
* security, and the 401/403/429 answers, come from the view's access rule (``security.py``)
  and from what every API request passes through (bearer check, rate limits).

The document is a developer's contract like the README, in English.
"""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.routing import IntegerConverter

from .inputs import IdConverter
from .security import PUBLIC, SIGNED_IN

OPENAPI_VERSION = "3.1.0"

# The two error shapes every endpoint shares (security.json_error; a rejected JSON body).
ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string", "description": "What went wrong, in the caller's language."},
                   "status": {"type": "integer", "description": "The HTTP status again."}},
}
FIELD_ERRORS = {
    "type": "object",
    "required": ["error", "fields", "status"],
    "properties": {"error": {"type": "string"}, "status": {"const": 400},
                   "fields": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "field name (or `responses.ITEM`, `comments.ITEM`) → the problem"}},
}
COMMON_SCHEMAS = {"Error": ERROR, "FieldErrors": FIELD_ERRORS}

BEARER, COOKIE = "bearerAuth", "sessionCookie"
_PARAM_RE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(description: str, schema: dict, headers: dict | None = None) -> dict:
    """A response (or request body) of JSON matching ``schema``."""
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def error(description: str) -> dict:
    """A response in the API's error shape ``{"error", "status"}``."""
    return json_body(description, ref("Error"))


def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def operation(operation_id: str, summary: str, *, responses: dict, description: str = "",
              parameters: tuple | list = (), path: dict | None = None, body: dict | None = None,
              schemas: dict | None = None, tags: tuple = ()):
    """Describe an API view: ``responses`` by status (the common ones are added by :func:`build`),
    ``path`` {name: description (or a schema dict)} for the rule's parameters, ``body`` the JSON
    request schema, ``schemas`` the named schemas this operation's ``ref`` s point to."""
    def decorate(view):
        view._openapi = {"operationId": operation_id, "summary": summary, "description": description,
                         "responses": responses, "parameters": list(parameters), "path": path or {},
                         "body": body, "schemas": schemas or {}, "tags": list(tags)}
        return view

    return decorate


def _path_parameters(rule, described: dict) -> list[dict]:
    out = []
    for name in _PARAM_RE.findall(rule.rule):
        converter = rule._converters.get(name)  # werkzeug keeps the rule's converters here
        digits = isinstance(converter, (IdConverter, IntegerConverter))
        given = described.get(name, "")
        schema = given if isinstance(given, dict) else ({"type": "integer", "minimum": 1} if digits
                                                         else {"type": "string", "minLength": 1,
                                                               "pattern": "^[^/]+$"})
        out.append({"name": name, "in": "path", "required": True, "schema": schema,
                    "description": given if isinstance(given, str) else ""})
    return out


def _common_responses(access, has_inputs: bool) -> dict:
    kind = access[0] if access else None
    answers = {
        "400": error("Bad request: a NUL byte in the address or query, or a host name the portal does not "
                     "answer to." if has_inputs else "Bad request: a host name the portal does not answer to."),
        "401": error("A bearer token was sent and is missing, malformed, revoked or unknown."
                     if kind == PUBLIC else
                     "Not signed in: no bearer token and no session cookie, or a bad bearer token "
                     "(a request with an `Authorization` header is judged by it alone)."),
        "429": error("Over a rate limit: per client address, per caller, or for failed authentication.")
        | {"headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}},
    }
    if kind != PUBLIC:
        answers["403"] = error("Your roles do not allow this (or, on the session cookie, the password must be "
                               "changed first)." if kind != SIGNED_IN else
                               "On the session cookie: the password must be changed first.")
    return answers


def _operation(rule, view, method: str, schemas: dict) -> dict:
    spec = getattr(view, "_openapi", None)
    if spec is None:
        raise LookupError(f"the API route {rule.rule} ({rule.endpoint}) has no @operation description")
    for name, schema in spec["schemas"].items():
        if schemas.setdefault(name, schema) is not schema and schemas[name] != schema:
            raise ValueError(f"two different API schemas are called {name}")
    access = getattr(view, "_access", None)
    parameters = _path_parameters(rule, spec["path"]) + spec["parameters"]
    responses = _common_responses(access, bool(parameters) or spec["body"] is not None)
    if _PARAM_RE.search(rule.rule):
        responses["404"] = error("Nothing at this address.")
    if spec["body"] is not None:
        responses["413"] = error("The body is larger than the portal accepts.")
    responses.update(spec["responses"])
    op = {"operationId": spec["operationId"], "summary": spec["summary"],
          "responses": dict(sorted(responses.items()))}
    if spec["description"]:
        op["description"] = spec["description"]
    if spec["tags"]:
        op["tags"] = spec["tags"]
    if parameters:
        op["parameters"] = parameters
    if spec["body"] is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": spec["body"]}}}
    if access and access[0] == PUBLIC:
        op["security"] = [{}]
    elif access and access[0] == "roles":
        op["x-roles"] = sorted(access[1])
        op["description"] = (op.get("description", "") + f"\n\nRoles: {', '.join(sorted(access[1]))}.").strip()
    return op


def build(app: Flask, blueprint: str, *, title: str, version: str, description: str) -> dict:
    """The OpenAPI document of every route of ``blueprint`` (its url_prefix is the server URL)."""
    prefix = app.blueprints[blueprint].url_prefix or ""
    schemas = dict(COMMON_SCHEMAS)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(blueprint + "."):
            continue
        path = _PARAM_RE.sub(r"{\1}", rule.rule.removeprefix(prefix)) or "/"
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view, method, schemas)
    cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": prefix or "/"}],
        "security": [{BEARER: []}, {COOKIE: []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer",
                         "description": "A token from `flask users token USERNAME` or the user's admin page."},
                COOKIE: {"type": "apiKey", "in": "cookie", "name": cookie,
                         "description": "The browser's signed-in session; requests that change something "
                                        "also send the CSRF token in `X-CSRFToken`."},
            },
        },
    }
