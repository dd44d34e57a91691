"""kb: field cases get real keys; old addresses (/cases/None-zh) kept as redirects

Cases published from a contribution used to be filed under the key "None-<lang>"
(slug "None-zh", "None-en-2", ...). Each gets a readable key (from its English title,
or its codes and models) with the contribution's number, a new address from it, an
alias row so the old address redirects, and change-log rows so every search index
drops the old key and indexes the new one.

Revision ID: a1c4e7f2b9d0
Revises: 617e5d902921
Created: 2026-12-06 01:20:00
"""
import re
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = 'a1c4e7f2b9d0'
down_revision = '617e5d902921'
branch_labels = None
depends_on = None

# The rule as it stood when this migration was written (portal/kb/services.py key_base).
WORD = re.compile(r"[a-z0-9]+")


def _key_base(title, lang, codes, models, product):
    def words(text):
        return WORD.findall(str(text or "").lower())

    parts = words(title) if lang == "en" else []
    if not parts:
        parts = [w for item in [*(codes or []), *(models or [])] for w in words(item)]
    if not parts:
        parts = words(title)
    base = ""
    for word in parts or words(product) or ["case"]:
        if len(base) + len(word) + 1 > 60:
            break
        base = f"{base}-{word}" if base else word
    return base or "case"


case_t = sa.table('kb_case', sa.column('id', sa.Integer), sa.column('slug', sa.String),
                  sa.column('key', sa.String), sa.column('lang', sa.String),
                  sa.column('title', sa.String), sa.column('product', sa.String),
                  sa.column('error_codes', sa.JSON), sa.column('models', sa.JSON),
                  sa.column('related', sa.JSON))
contribution_t = sa.table('kb_contribution', sa.column('id', sa.Integer),
                          sa.column('kind', sa.String), sa.column('case_id', sa.Integer),
                          sa.column('data', sa.JSON))
alias_t = sa.table('kb_case_alias', sa.column('slug', sa.String), sa.column('case_id', sa.Integer),
                   sa.column('created_at', sa.DateTime(timezone=True)))
change_t = sa.table('kb_index_change', sa.column('key', sa.String),
                    sa.column('created_at', sa.DateTime(timezone=True)))


def upgrade():
    op.create_table('kb_case_alias',
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['kb_case.id'], name=op.f('fk_kb_case_alias_case_id_kb_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_kb_case_alias'))
    )
    with op.batch_alter_table('kb_case_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_case_alias_case_id'), ['case_id'], unique=False)
    _rekey()


def _rekey():
    conn = op.get_bind()
    now = datetime.now(timezone.utc)
    wrong = conn.execute(sa.select(case_t).where(case_t.c.key.like('None-%'))
                         .order_by(case_t.c.id)).mappings().all()
    if not wrong:
        return
    keys = set(conn.execute(sa.select(case_t.c.key)).scalars())
    slugs = set(conn.execute(sa.select(case_t.c.slug)).scalars())
    renamed = {}
    for row in wrong:
        number = conn.execute(sa.select(sa.func.min(contribution_t.c.id)).where(
            contribution_t.c.case_id == row['id'], contribution_t.c.kind == 'new')).scalar()
        base = f"{_key_base(row['title'], row['lang'], row['error_codes'], row['models'], row['product'])}-{number or row['id']}"
        key, n = base, 2
        while key in keys:
            key, n = f"{base}-{n}", n + 1
        keys.add(key)
        slug, n = f"{key}-{row['lang']}", 2
        while slug in slugs:
            slug, n = f"{key}-{row['lang']}-{n}", n + 1
        slugs.add(slug)
        renamed[row['key']] = key
        conn.execute(case_t.update().where(case_t.c.id == row['id']).values(key=key, slug=slug))
        conn.execute(alias_t.insert().values(slug=row['slug'], case_id=row['id'], created_at=now))
        conn.execute(change_t.insert(), [{"key": row['key'], "created_at": now},
                                         {"key": key, "created_at": now}])
        for contribution in conn.execute(sa.select(contribution_t).where(
                contribution_t.c.case_id == row['id'])).mappings():
            data = dict(contribution['data'] or {})
            data['key'] = key
            conn.execute(contribution_t.update().where(contribution_t.c.id == contribution['id'])
                         .values(data=data))
    for row in conn.execute(sa.select(case_t.c.id, case_t.c.related)).mappings().all():
        related = row['related'] or []
        if any(k in renamed for k in related):
            conn.execute(case_t.update().where(case_t.c.id == row['id'])
                         .values(related=[renamed.get(k, k) for k in related]))


def downgrade():
    # The new keys stay: "None-…" was never a key to go back to. Only the redirects go.
    with op.batch_alter_table('kb_case_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_case_alias_case_id'))

    op.drop_table('kb_case_alias')
