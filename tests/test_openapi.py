"""The JSON API as a contract: its OpenAPI document, schemathesis against a live server, and a
client that knows the portal only through that document.

The live server is a real one: Werkzeug's threaded server on a free port, a SQLite file, the
shipped courses and audit forms, a few cases in the search index, a certificate, bearer tokens.
Its API rate limits are raised (config) so that schemathesis's hundreds of requests are not 429s.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import jsonschema_rs  # comes with schemathesis (the `test` extra)
import pytest
from werkzeug.serving import make_server

from portal.extensions import db

from .conftest import ROOT_DIR, SAMPLE_CASES, make_app

BIN = Path(sys.executable).parent
PLENTY = "100000 per minute"
TEMPLATE = "home-service-visit"


@pytest.fixture
def backend():
    """The document is built from routes, not rows: one database is enough."""
    return "sqlite"


# --- the document -------------------------------------------------------------------------------


def test_the_document_describes_every_api_route_with_its_access_rule(app):
    from portal.security import PUBLIC, access_rule

    # The OpenAPI 3.1 meta-schema, as schemathesis carries it (it checks documents with it on loading).
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": "/api/v1"}]
    assert [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(doc)] == []
    routes = {(rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}").replace("int:", ""),
               method.lower(), rule.endpoint)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert {(path, method) for path, method, _endpoint in routes} == described
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    bearer = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    for path, method, endpoint in routes:
        op = doc["paths"][path][method]
        public = access_rule(app, endpoint)[0] == PUBLIC
        assert (op.get("security") == [{}]) is public, path
        assert ("403" in op["responses"]) is not public, path
        assert {"400", "401", "429"} <= set(op["responses"]), path
        for answer in op["responses"].values():  # every answer is JSON, errors in the shared shapes
            for media in answer.get("content", {}):
                assert media == "application/json", path
    body = doc["paths"]["/audits"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AuditPayload"}


def test_the_audit_payload_schema_is_the_one_validation_reads(app, users):
    """Every field the schema requires is refused when missing, and no other field is accepted."""
    from portal.audits.api import AUDIT_PAYLOAD
    from portal.auth.services import issue_token

    token = issue_token(users["auditor"])
    client = app.test_client()
    refused = client.post("/api/v1/audits", json={"surprise": 1},
                          headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400
    fields = refused.get_json()["fields"]
    assert refused.get_json()["status"] == 400
    assert "surprise" in fields
    assert set(AUDIT_PAYLOAD["required"]) <= set(fields)
    assert AUDIT_PAYLOAD["additionalProperties"] is False


# --- a live server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from portal.audits.loader import load_templates
    from portal.auth.models import Outlet, Province, Region
    from portal.auth.services import create_user, issue_token
    from portal.certification import services as certs
    from portal.certification.models import Tier
    from portal.kb import indexing
    from portal.kb.services import create_case
    from portal.learning.loader import load_courses

    tmp = tmp_path_factory.mktemp("live-api")
    app = make_app(tmp, "sqlite:///" + str(tmp / "portal.sqlite3"), TESTING=False,
                   PORTAL_API_RATE=PLENTY, PORTAL_API_ADDRESS_RATE=PLENTY, PORTAL_API_AUTH_FAILURE_RATE=PLENTY,
                   PORTAL_VERIFY_RATE=PLENTY)
    with app.app_context():
        db.create_all()
        province = Province(code="GD", name_zh="广东", name_en="Guangdong",
                            region=Region(code="SOUTH", name_zh="华南大区", name_en="South Region"))
        db.session.add(Outlet(code="GD-GZ-01", name_zh="广州天河网点", name_en="Guangzhou Tianhe", city="广州",
                              province=province))
        db.session.commit()
        started = date(2026, 3, 2)
        tech = create_user("tech", ["technician"], "correct-horse-42", name="陈强", outlet_code="GD-GZ-01",
                           start_date=started)
        auditor = create_user("auditor", ["auditor"], "correct-horse-42", name="王芳", start_date=started)
        every = create_user("everyone", ["technician", "trainer", "auditor", "admin"], "correct-horse-42",
                            name="All Roles", outlet_code="GD-GZ-01", start_date=started)
        assert not load_courses(ROOT_DIR / "content" / "courses").problems
        assert not load_templates(ROOT_DIR / "content" / "audits").problems
        for data in SAMPLE_CASES:
            data = dict(data)
            create_case(data, slug=data.pop("slug"))
        db.session.commit()
        indexing.rebuild()
        tier = Tier(code="certified", level=1, title_zh="认证技师", title_en="Certified Technician")
        db.session.add(tier)
        db.session.commit()
        number = certs.issue(tech, tier, date.today(), force=True, note="contract test").number
        live = SimpleNamespace(app=app, auditor=issue_token(auditor), everyone=issue_token(every),
                               technician="tech", certificate=number)
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live.base = f"http://127.0.0.1:{server.server_port}"
    yield live
    server.shutdown()
    thread.join(timeout=10)


def test_schemathesis_finds_the_live_api_true_to_its_document(live, tmp_path):
    """No 5xx, and every status, content type, header and body as the document says, for
    generated requests (valid and invalid) to every operation, with a token holding every role;
    operations that need a caller refuse one without credentials (ignored_auth)."""
    config = tmp_path / "schemathesis.toml"
    # Real names now and then, so the answers with data (not only 404s) are checked too.
    config.write_text(f"""
[dictionaries.slugs]
values = ["{TEMPLATE}", "demo-e1-zh", "demo-fan-en"]
[dictionaries.usernames]
values = ["tech", "everyone", "auditor"]
[dictionaries.numbers]
values = ["{live.certificate}"]
[dictionaries.templates]
values = ["{TEMPLATE}"]
[parameters]
"path.slug" = {{ dictionary = "slugs", probability = 0.5 }}
"path.username" = {{ dictionary = "usernames", probability = 0.5 }}
"path.number" = {{ dictionary = "numbers", probability = 0.5 }}
"body.technician" = {{ dictionary = "usernames", probability = 0.5 }}
"body.template" = {{ dictionary = "templates", probability = 0.5 }}
""", encoding="utf-8")
    checks = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
              "response_schema_conformance,ignored_auth,negative_data_rejection,unsupported_method")
    result = subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(config), "--no-color", "run",
         f"{live.base}/api/v1/openapi.json", "--checks", checks, "--phases", "examples,coverage,fuzzing",
         "--max-examples", "25", "--seed", "22", "--workers", "2", "--request-timeout", "30",
         "--generation-database", "none", "--header", f"Authorization: Bearer {live.everyone}",
         "--report", "ndjson", "--report-ndjson-path", str(tmp_path / "events.ndjson")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    answered: dict[str, set[int]] = {}  # operation → the statuses it answered with
    for line in (tmp_path / "events.ndjson").read_text(encoding="utf-8").splitlines():
        recorder = json.loads(line).get("ScenarioFinished", {}).get("recorder") or {}
        for interaction in (recorder.get("interactions") or {}).values():
            if interaction.get("response") and interaction["request"]["method"] in ("GET", "POST"):
                answered.setdefault(recorder["label"], set()).add(interaction["response"]["status_code"])
    status, doc = _call(live.base, "get", "/api/v1/openapi.json")
    operations = {f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops}
    # Schemathesis leaves out the document's own address; everything else was called.
    assert set(answered) == operations - {"GET /openapi.json"}
    for label, statuses in answered.items():
        assert label.startswith("POST") or 200 in statuses, (label, statuses)  # data checked, not only errors
        if 200 in statuses and "certificates" not in label:  # ignored_auth probed it without credentials
            assert 401 in statuses, (label, statuses)


# --- a client that knows only the document ------------------------------------------------------


def _call(base: str, method: str, path: str, token: str | None = None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method.upper())
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class DocumentClient:
    """Finds operations by operationId, checks what it sends and gets against the document's
    schemas, and fills an audit form by the rules the template and the document state."""

    def __init__(self, origin: str, token: str):
        status, self.doc = _call(origin, "get", "/api/v1/openapi.json")
        assert status == 200
        self.base = origin + self.doc["servers"][0]["url"]
        self.token = token
        self.ops = {op["operationId"]: (method, path, op)
                    for path, methods in self.doc["paths"].items() for method, op in methods.items()}

    def schema(self, fragment: dict):
        return jsonschema_rs.validator_for({**fragment, "components": self.doc["components"]})

    def call(self, operation_id: str, body=None, **path):
        method, template, op = self.ops[operation_id]
        if body is not None:
            sent = op["requestBody"]["content"]["application/json"]["schema"]
            self.schema(sent).validate(body)
        status, data = _call(self.base, method, template.format(**path), self.token, body)
        answer = op["responses"][str(status)]["content"]["application/json"]["schema"]
        self.schema(answer).validate(data)
        return status, data

    @staticmethod
    def clean_answer(item: dict):
        if item["type"] == "yesno":
            return item["pass_when"]
        if item["type"] == "rating":
            return max(o for o in item["options"] if isinstance(o, int))
        if item["type"] == "choice":
            return max((c for c in item["choices"] if not c["red_line"]), key=lambda c: c["score"])["id"]
        if item["type"] == "number":
            target = item["target"] or {}
            return target.get("min", item["min"])
        if item["type"] == "time":
            return "10:05"
        if item["type"] == "text":
            return "Polite, tidy and quick."
        return None  # photos: attached on the portal

    @staticmethod
    def breaking_answer(item: dict):
        if item["type"] == "yesno":
            return "no" if item["pass_when"] == "yes" else "yes"
        if item["type"] == "rating":
            return item["red_line_at"]
        return next(c["id"] for c in item["choices"] if c["red_line"])

    def fill(self, form: dict, break_red_line: bool) -> tuple[dict, dict]:
        responses, comments, broken = {}, {}, False
        for section in form["sections"]:
            for item in section["items"]:
                value = self.clean_answer(item)
                if break_red_line and not broken and item["red_line"]:
                    value, broken = self.breaking_answer(item), True
                    if item["evidence"] == "comment":
                        comments[item["id"]] = "Took a red envelope from the customer."
                if value is not None:
                    self.schema(item["answer"]).validate(value)
                    responses[item["id"]] = value
        assert broken or not break_red_line
        return responses, comments


def test_a_client_written_from_the_document_files_a_clean_and_a_red_line_audit(live):
    client = DocumentClient(live.base, live.auditor)
    status, form = client.call("getAuditTemplate", slug=TEMPLATE)
    assert status == 200
    visited = (datetime.now(timezone.utc) - timedelta(hours=3)).astimezone(timezone(timedelta(hours=8)))
    header = {"technician": live.technician, "template": form["slug"], "visited_at": visited.isoformat(),
              "product": "air-conditioner", "city": "广州"}

    responses, comments = client.fill(form, break_red_line=False)
    status, clean = client.call("fileAudit", {**header, "work_order": "WO-CLEAN-1", "responses": responses,
                                              "comments": comments})
    assert status == 201, clean
    assert clean["score"] >= 90 and not clean["red_line_failed"] and clean["result"] == form["grades"][0]["code"]

    responses, comments = client.fill(form, break_red_line=True)
    status, red = client.call("fileAudit", {**header, "work_order": "WO-RED-1", "responses": responses,
                                            "comments": comments})
    assert status == 201, red
    assert red["red_line_failed"] and red["result"] == "fail"

    # The same visit again: the first report, unchanged (no second filing, nothing applied twice).
    status, again = client.call("fileAudit", {**header, "work_order": "WO-RED-1", "responses": responses,
                                              "comments": comments})
    assert status == 200 and again == red
    # Another auditor sending that visit: a conflict, in the document's shape; the record shows
    # what the red line did (the technician's certificate suspended).
    other = DocumentClient(live.base, live.everyone)
    status, conflict = other.call("fileAudit", {**header, "work_order": "WO-RED-1", "responses": responses,
                                                "comments": comments})
    assert status == 409 and conflict["id"] == red["id"]
    status, record = other.call("getTechnicianRecord", username=live.technician)
    assert status == 200 and [c["status"] for c in record["certificates"]] == ["suspended"]
    assert {a["id"]: a["result"] for a in record["audits"]} == {clean["id"]: clean["result"], red["id"]: "fail"}
