"""voice: a message's region, and an anonymous message's place at the level that keeps 5 people

Revision ID: b4d8e2f61a93
Revises: a7e3c9b51d24
Created: 2026-12-06 17:30:00

An anonymous message from a small outlet (fewer than 5 active technicians) kept its province,
even when the province's small outlets together had only that one outlet's 2 people: the
province then named the outlet. The same threshold now holds at each level (outlet, province,
region, none; portal.voice.services.anonymous_place), so a message needs its region: the new
``region_id`` is filled from the province for every message, and each anonymous message that
showed its province only is placed again by the rule, on today's technicians (the counts on its
day are not kept): its province is dropped where the province's small outlets together have
fewer than 5, and its region too where the region's small outlets in such provinces have fewer.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b4d8e2f61a93'
down_revision = 'a7e3c9b51d24'
branch_labels = None
depends_on = None

THRESHOLD = 5  # portal.voice.models.MIN_OUTLET_TECHNICIANS, as of this revision


ANSWERS = sa.table('voice_answer', sa.column('id'), sa.column('message_id'), sa.column('author_id'),
                   sa.column('text'), sa.column('at'))


def _keeping_the_answers(bind, change):
    """Run ``change`` (a batch alteration of voice_message) without losing an answer: on SQLite the
    batch copies the table, and dropping the old one (foreign keys on) deletes every answer that
    cascades from it; they are kept aside and put back. Elsewhere the change is in place."""
    if bind.dialect.name != "sqlite":
        change()
        return
    kept = [dict(row._mapping) for row in bind.execute(sa.select(ANSWERS))]
    change()
    bind.execute(ANSWERS.delete())
    if kept:
        bind.execute(ANSWERS.insert(), kept)


def upgrade():
    bind = op.get_bind()

    def add_region():
        with op.batch_alter_table('voice_message', schema=None) as batch_op:
            batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f('ix_voice_message_region_id'), ['region_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f('fk_voice_message_region_id_region'), 'region',
                                        ['region_id'], ['id'], ondelete='SET NULL')

    _keeping_the_answers(bind, add_region)
    op.execute("UPDATE voice_message SET region_id = "
               "(SELECT province.region_id FROM province WHERE province.id = voice_message.province_id) "
               "WHERE province_id IS NOT NULL")
    # Active technicians per outlet, with its province and region (the portal's technicians_query).
    per_outlet = bind.execute(sa.text(
        'SELECT outlet.id, outlet.province_id, province.region_id, COUNT(DISTINCT "user".id) '
        'FROM "user" JOIN user_role ON user_role.user_id = "user".id '
        'JOIN outlet ON outlet.id = "user".outlet_id JOIN province ON province.id = outlet.province_id '
        "WHERE user_role.role = 'technician' AND \"user\".active "
        'GROUP BY outlet.id, outlet.province_id, province.region_id')).all()
    small_by_province, region_of = {}, {}
    for _outlet, province_id, region_id, n in per_outlet:
        region_of[province_id] = region_id
        if n < THRESHOLD:
            small_by_province[province_id] = small_by_province.get(province_id, 0) + n
    small_by_region = {}
    for province_id, n in small_by_province.items():
        if n < THRESHOLD:
            small_by_region[region_of[province_id]] = small_by_region.get(region_of[province_id], 0) + n
    narrowed = bind.execute(sa.text(
        "SELECT id, province_id, region_id FROM voice_message "
        "WHERE NOT named AND outlet_id IS NULL AND province_id IS NOT NULL")).all()
    for message_id, province_id, region_id in narrowed:
        if small_by_province.get(province_id, 0) >= THRESHOLD:
            continue
        keep_region = small_by_region.get(region_id, 0) >= THRESHOLD
        bind.execute(sa.text("UPDATE voice_message SET province_id = NULL, region_id = :region WHERE id = :id"),
                     {"region": region_id if keep_region else None, "id": message_id})


def downgrade():
    def drop_region():
        with op.batch_alter_table('voice_message', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_voice_message_region_id_region'), type_='foreignkey')
            batch_op.drop_index(batch_op.f('ix_voice_message_region_id'))
            batch_op.drop_column('region_id')

    _keeping_the_answers(op.get_bind(), drop_region)
