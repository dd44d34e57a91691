"""assessment: question versions; attempts name the version they drew; browser edits marked

Revision ID: b4c8e2a17f93
Revises: a7c3e9d1b024
Created: 2026-12-06 11:00:00

assessment_question_version: one immutable row per state of a question (written by the flush
listener in assessment.models on every change). assessment_question gains ``version`` (its current
version number) and ``edited_in_browser_at`` (content load keeps such a question and reports a
file that would change it). assessment_bank_log: browser edits and regrades (message id + values).
Backfill: every question gets version 1 made from today's question,
and every attempt's items name that version (``"version": id``), in batches.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b4c8e2a17f93'
down_revision = 'a7c3e9d1b024'
branch_labels = None
depends_on = None

VERSIONED = ("type", "difficulty", "tags", "title", "format", "text_zh", "text_en", "explanation_zh",
             "explanation_en", "data_zh", "data_en", "image")
BATCH = 500


def upgrade():
    op.create_table(
        'assessment_question_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('difficulty', sa.Integer(), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('format', sa.String(length=12), nullable=False),
        sa.Column('text_zh', sa.Text(), nullable=False),
        sa.Column('text_en', sa.Text(), nullable=False),
        sa.Column('explanation_zh', sa.Text(), nullable=False),
        sa.Column('explanation_en', sa.Text(), nullable=False),
        sa.Column('data_zh', sa.JSON(), nullable=False),
        sa.Column('data_en', sa.JSON(), nullable=False),
        sa.Column('image', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['question_id'], ['assessment_question.id'],
                                name=op.f('fk_assessment_question_version_question_id_assessment_question'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'],
                                name=op.f('fk_assessment_question_version_created_by_id_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_question_version')),
        sa.UniqueConstraint('question_id', 'number', name=op.f('uq_assessment_question_version_question_id')),
    )
    op.create_table(
        'assessment_bank_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('question_id', sa.Integer(), nullable=True),
        sa.Column('attempt_id', sa.Integer(), nullable=True),
        sa.Column('msg_id', sa.String(length=60), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_assessment_bank_log_actor_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['question_id'], ['assessment_question.id'],
                                name=op.f('fk_assessment_bank_log_question_id_assessment_question'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['attempt_id'], ['assessment_attempt.id'],
                                name=op.f('fk_assessment_bank_log_attempt_id_assessment_attempt'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_bank_log')),
    )
    op.create_index(op.f('ix_assessment_bank_log_question_id'), 'assessment_bank_log', ['question_id'], unique=False)
    op.add_column('assessment_question', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('assessment_question', sa.Column('edited_in_browser_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    meta = sa.MetaData()
    question = sa.Table('assessment_question', meta, autoload_with=bind)
    version = sa.Table('assessment_question_version', meta, autoload_with=bind)
    attempt = sa.Table('assessment_attempt', meta, autoload_with=bind)
    now = sa.func.current_timestamp()
    bind.execute(version.insert().from_select(
        ['question_id', 'number', 'source', 'created_at', *VERSIONED],
        sa.select(question.c.id, sa.literal(1), question.c.source, now, *(question.c[n] for n in VERSIONED))))
    ids = dict(bind.execute(sa.select(version.c.question_id, version.c.id)).all())
    last = 0
    while True:
        rows = bind.execute(sa.select(attempt.c.id, attempt.c['items']).where(attempt.c.id > last)
                            .order_by(attempt.c.id).limit(BATCH)).all()
        if not rows:
            break
        for attempt_id, items in rows:
            if items and any("version" not in item for item in items):
                bind.execute(attempt.update().where(attempt.c.id == attempt_id).values(items=[
                    item if "version" in item or item.get("question") not in ids
                    else {**item, "version": ids[item["question"]]} for item in items]))
        last = rows[-1][0]


def downgrade():
    op.execute('ALTER TABLE assessment_question DROP COLUMN edited_in_browser_at')
    op.execute('ALTER TABLE assessment_question DROP COLUMN version')
    op.drop_index(op.f('ix_assessment_bank_log_question_id'), table_name='assessment_bank_log')
    op.drop_table('assessment_bank_log')
    op.drop_table('assessment_question_version')
