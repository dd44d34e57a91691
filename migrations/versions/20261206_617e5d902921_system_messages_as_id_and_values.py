"""system messages as id + values: notifications, certificate status reasons and log reasons,
targeted-lesson reasons and audit consequences get msg_id + params beside their text column;
rows written the old way ("中文 / English" in one string) are converted

Revision ID: 617e5d902921
Revises: 3f9c1a7d52e8
Created: 2026-12-06 01:20:00
"""
from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = '617e5d902921'
down_revision = '3f9c1a7d52e8'
branch_labels = None
depends_on = None

# (table, text column, id column, params column)
COLUMNS = [
    ("notification", "text", "msg_id", "params"),
    ("cert_certificate", "status_reason", "status_msg_id", "status_params"),
    ("cert_event", "reason", "reason_msg_id", "reason_params"),
    ("learning_targeted", "reason", "reason_msg_id", "reason_params"),
    ("audit_consequence", "detail", "detail_msg_id", "detail_params"),
]


def upgrade():
    for table, _text, id_column, params_column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(id_column, sa.String(length=60), server_default='', nullable=False))
            batch_op.add_column(sa.Column(params_column, sa.JSON(), server_default='{}', nullable=False))
    convert(op.get_bind())


def downgrade():
    # The text columns were left as they were (converted rows keep their old text; rows written
    # since hold an English copy), so dropping the id and values loses no sentence.
    for table, _text, id_column, params_column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(params_column)
            batch_op.drop_column(id_column)


# --- converting rows written the old way ---------------------------------------------------------
# The sentences below are the ones the portal wrote before this revision, frozen here: the parser
# must recognise history, not today's wording. What it does not recognise (a trainer's own words,
# or an old text it cannot take apart) keeps an empty msg_id and is shown as stored.

DAY = r"(\d{4}-\d{2}-\d{2})"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _day(text: str) -> dict:
    return {"date": date.fromisoformat(text).isoformat()}


def _both(zh: str, en: str) -> dict:
    return {"zh": zh or en, "en": en or zh}


def _message(msg_id: str, **params) -> dict:
    return {"msg": msg_id, "params": params}


class _Lookup:
    """What the old strings referred to, read from the database as it is."""

    def __init__(self, conn):
        self.conn = conn
        self._courses = None

    def course(self, title_en: str):
        if self._courses is None:
            rows = self.conn.execute(sa.text("SELECT title_zh, title_en FROM learning_course")).all()
            self._courses = {en: zh for zh, en in rows}
        return _both(self._courses[title_en], title_en) if title_en in self._courses else title_en

    def audit_items(self, audit_id: int) -> list[dict]:
        row = self.conn.execute(sa.text("SELECT t.spec FROM audit a JOIN audit_template t ON t.id = a.template_id "
                                        "WHERE a.id = :a").columns(sa.column("spec", sa.JSON)), {"a": audit_id}).first()
        found: list[dict] = []

        def walk(node):
            if isinstance(node, dict):
                text = node.get("text")
                if isinstance(text, dict) and text.get("zh") is not None and text.get("en") is not None:
                    found.append(_both(text["zh"], text["en"]))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(row[0] if row else None)
        return found


def _items(names: str, audit_id: int, lookup: _Lookup):
    """"zh1 / en1, zh2 / en2" back into [{"zh", "en"}, …]: by the report's own form where it can
    be read, else by splitting where each new item starts with Chinese; None if unsure."""
    candidates = sorted(lookup.audit_items(audit_id), key=lambda i: -len(i["zh"] + i["en"]))
    rest, found = names, []
    while rest:
        for item in candidates:
            joined = f"{item['zh']} / {item['en']}"
            if rest == joined or rest.startswith(joined + ", "):
                found.append(item)
                rest = rest[len(joined) + 2:]
                break
        else:
            break
    if not rest and found:
        return found
    parts: list[str] = []
    for piece in names.split(", "):
        if parts and not (" / " in piece and CJK.search(piece.split(" / ", 1)[0])):
            parts[-1] += ", " + piece
        else:
            parts.append(piece)
    if not parts or any(" / " not in p for p in parts):
        return None
    return [_both(*(s.strip() for s in p.split(" / ", 1))) for p in parts]


def parse_reason(text: str, lookup: _Lookup):
    """A reason the portal wrote (a rule's, or an audit's) as a nested-message value, else None."""
    text = (text or "").strip()
    if text in ("The validity date passed while it was paused.", "暂停期间已过有效期。"):
        return _message("cert.passed-while-paused")
    m = re.fullmatch(rf"The validity date {DAY} passed\.", text) or re.fullmatch(rf"有效期 {DAY} 已过。", text)
    if m:
        return _message("cert.validity-passed", day=_day(m.group(1)))
    m = (re.fullmatch(rf"The quarterly course (?P<c>.+) was due (?P<d>{DAY[1:-1]}) and not completed by the end of "
                      rf"the grace period \((?P<g>{DAY[1:-1]})\)\.", text)
         or re.fullmatch(rf"季度课程 (?P<c>.+) 截止日期为 (?P<d>{DAY[1:-1]})，宽限期（至 (?P<g>{DAY[1:-1]})）结束时仍未完成。",
                         text))
    if m:
        return _message("cert.quarterly-missed", course=lookup.course(m["c"]), due=_day(m["d"]),
                        deadline=_day(m["g"]))
    m = re.fullmatch(r"暗访报告 #(?P<n>\d+) 红线问题 / Audit report #(?P=n), red-line failure: (?P<items>.*)", text, re.S)
    if m:
        items = _items(m["items"], int(m["n"]), lookup)
        return None if items is None else _message("audit.red-line", n=int(m["n"]), items=items)
    m = re.fullmatch(r"暗访报告 #(?P<n>\d+)：(?P<zh>.+) 得分 (?P<s>[\d.e+-]+)%（低于 (?P<t>[\d.e+-]+)%）/ "
                     r"Audit report #(?P=n): (?P<en>.+) scored (?P=s)% \(below (?P=t)%\)", text, re.S)
    if m:
        return _message("audit.weak-section", n=int(m["n"]), section=_both(m["zh"], m["en"]),
                        score=float(m["s"]), threshold=float(m["t"]))
    return None


def _reason_value(text: str, lookup: _Lookup):
    """Inside a notification: the reason as a message, or the plain words a trainer typed."""
    return parse_reason(text, lookup) or text


def parse_notification(text: str, lookup: _Lookup):
    """(msg_id, params) for an old bilingual notification, or None."""
    text = text or ""
    m = re.fullmatch(r"你的证书 (?P<n>\S+) 已暂停：(?P<r>.*) / Your certificate (?P=n) is suspended: (?P=r)", text, re.S)
    if m:
        return "cert.suspended", {"number": m["n"], "reason": _reason_value(m["r"], lookup)}
    m = re.fullmatch(r"你的证书 (?P<n>\S+) 已失效：(?P<r>.*) / Your certificate (?P=n) has lapsed: (?P=r)", text, re.S)
    if m:
        return "cert.lapsed", {"number": m["n"], "reason": _reason_value(m["r"], lookup)}
    m = re.fullmatch(rf"你的证书 (?P<n>\S+) 将于 (?P<d>{DAY[1:-1]}) 到期，请及时续期 / "
                     rf"Your certificate (?P=n) expires on (?P=d): renew it in time", text)
    if m:
        return "cert.expiring", {"number": m["n"], "day": _day(m["d"])}
    m = re.fullmatch(r"暗访报告 #(?P<n>\d+)：请阅读并确认 / Audit report #(?P=n): please read and acknowledge", text)
    if m:
        return "audit.acknowledge", {"n": int(m["n"])}
    m = re.fullmatch(r"(?P<name>.+?): 暗访报告 #(?P<n>\d+) 红线问题 / Audit report #(?P=n), red-line failure: "
                     r"(?P<items>.*)", text, re.S)
    if m:
        items = _items(m["items"], int(m["n"]), lookup)
        return None if items is None else ("audit.red-line-of", {"name": m["name"], "n": int(m["n"]), "items": items})
    m = re.fullmatch(rf"新的学习任务：(?P<zh>.+) / (?P<en>.+)，截止 (?P<d>{DAY[1:-1]}) / "
                     rf"New lesson for you: (?P=zh) / (?P=en), due (?P=d)", text, re.S)
    if m:
        return "learning.targeted", {"title": _both(m["zh"], m["en"]), "day": _day(m["d"])}
    m = re.fullmatch(r"(?P<name>.+) 在 (?P<c>.+) 中落后于进度 / (?P=name) is behind schedule in (?P=c)", text, re.S)
    if m:
        return "learning.behind", {"name": m["name"], "cohort": m["c"]}
    m = re.fullmatch(r"你的案例已被采纳：(?P<t>.*) / Your contribution was accepted: (?P=t)", text, re.S)
    if m:
        return "kb.contribution-accepted", {"title": m["t"]}
    m = re.fullmatch(r"你的案例未被采纳：(?P<t>.*) / Your contribution was not accepted: (?P=t)", text, re.S)
    if m:
        return "kb.contribution-rejected", {"title": m["t"]}
    return None


def convert(conn) -> dict[str, tuple[int, int]]:
    """Give old rows their id and values; returns {table: (converted, left as plain text)}."""
    lookup = _Lookup(conn)
    counts = {}
    for table, text_column, id_column, params_column in COLUMNS:
        target = sa.table(table, sa.column("id"), sa.column(text_column), sa.column(id_column),
                          sa.column(params_column, sa.JSON))
        rows = conn.execute(sa.select(target.c.id, target.c[text_column]).where(
            target.c[id_column] == "", target.c[text_column] != "")).all()
        done = kept = 0
        for row_id, text in rows:
            if table == "notification":
                found = parse_notification(text, lookup)
            else:
                reason = parse_reason(text, lookup)
                found = (reason["msg"], reason["params"]) if reason else None
            if found is None:
                kept += 1
                continue
            conn.execute(target.update().where(target.c.id == row_id).values(
                {id_column: found[0], params_column: found[1]}))
            done += 1
        counts[table] = (done, kept)
    return counts
