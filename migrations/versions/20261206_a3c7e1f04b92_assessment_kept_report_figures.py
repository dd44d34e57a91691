"""assessment_question_stat, assessment_option_stat, assessment_quiz_result: the quiz report's
figures kept at grading; assessment_response_choice.attempt_number

The unfiltered item analysis and the results list read these (one row per question, per chosen
option, per technician) instead of aggregating every kept response on each request; grading adds
to them by increments in its transaction. Filled here from the responses already kept (and the
attempts that have them); attempts filled later by ``flask --app portal quizzes keep-responses``
are added as they are filled. The discrimination index is decided by ``flask daily``.
``attempt_number`` copied to the choices lets the filtered item analysis skip the join.

Revision ID: a3c7e1f04b92
Revises: 9b4e2d7a6c15
Created: 2026-12-06 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a3c7e1f04b92'
down_revision = '9b4e2d7a6c15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'assessment_question_stat',
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('seen', sa.Integer(), nullable=False),
        sa.Column('score_sum', sa.Double(), nullable=False),
        sa.Column('blank', sa.Integer(), nullable=False),
        sa.Column('discrimination', sa.Double(), nullable=True),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'],
                                name=op.f('fk_assessment_question_stat_quiz_id_assessment_quiz'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('quiz_id', 'question_id', name=op.f('pk_assessment_question_stat')),
    )
    op.create_table(
        'assessment_option_stat',
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('chosen', sa.Integer(), nullable=False),
        sa.Column('first', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'],
                                name=op.f('fk_assessment_option_stat_quiz_id_assessment_quiz'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('quiz_id', 'question_id', 'value', name=op.f('pk_assessment_option_stat')),
    )
    op.create_table(
        'assessment_quiz_result',
        sa.Column('quiz_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('best', sa.Double(), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('last', sa.DateTime(timezone=True), nullable=True),
        sa.Column('score_sum', sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(['quiz_id'], ['assessment_quiz.id'],
                                name=op.f('fk_assessment_quiz_result_quiz_id_assessment_quiz'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_assessment_quiz_result_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('quiz_id', 'user_id', name=op.f('pk_assessment_quiz_result')),
    )
    with op.batch_alter_table('assessment_quiz_result') as batch:
        batch.create_index('ix_assessment_quiz_result_quiz_best', ['quiz_id', 'best'], unique=False)
    with op.batch_alter_table('assessment_response_choice') as batch:
        batch.add_column(sa.Column('attempt_number', sa.Integer(), nullable=True))

    op.execute("UPDATE assessment_response_choice SET attempt_number = (SELECT r.attempt_number "
               "FROM assessment_response r WHERE r.id = assessment_response_choice.response_id)")
    op.execute("INSERT INTO assessment_question_stat (quiz_id, question_id, seen, score_sum, blank) "
               "SELECT quiz_id, question_id, count(*), sum(score), sum(CASE WHEN blank THEN 1 ELSE 0 END) "
               "FROM assessment_response WHERE position >= 0 GROUP BY quiz_id, question_id")
    op.execute("INSERT INTO assessment_option_stat (quiz_id, question_id, value, chosen, \"first\") "
               "SELECT quiz_id, question_id, value, count(*), min(CAST(user_id AS BIGINT) * 1000000 + attempt_number) "
               "FROM assessment_response_choice GROUP BY quiz_id, question_id, value")
    # an attempt is in the kept results once its responses are kept (as attempts.backfill_responses)
    op.execute("INSERT INTO assessment_quiz_result (quiz_id, user_id, attempts, best, passed, last, score_sum) "
               "SELECT a.quiz_id, a.user_id, count(*), max(coalesce(a.score, 0.0)), "
               "max(CASE WHEN a.passed THEN 1 ELSE 0 END) = 1, max(a.submitted_at), sum(coalesce(a.score, 0.0)) "
               "FROM assessment_attempt a WHERE a.status != 'open' AND EXISTS "
               "(SELECT 1 FROM assessment_response r WHERE r.attempt_id = a.id) GROUP BY a.quiz_id, a.user_id")


def downgrade():
    with op.batch_alter_table('assessment_response_choice') as batch:
        batch.drop_column('attempt_number')
    with op.batch_alter_table('assessment_quiz_result') as batch:
        batch.drop_index('ix_assessment_quiz_result_quiz_best')
    op.drop_table('assessment_quiz_result')
    op.drop_table('assessment_option_stat')
    op.drop_table('assessment_question_stat')
