"""cert_eligibility.recheck_on: the day a kept eligibility figure may change by the date alone

A row was stale every day after the one it was decided on, so every morning the whole board
(every technician × tier) waited for a refresh. Now each row keeps the first day its decision
can change without any change to the data (a certificate of the tier below expiring, the months
at it completed, an audit leaving the 12-month window, another quarterly course becoming
current) and is stale from that day only. Existing rows have no such day yet: they are marked
stale here (version raised), so they are decided again and get one.

Revision ID: b7e3d91f5c28
Revises: b7e2a4c9d815
Created: 2026-12-06 07:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e3d91f5c28'
down_revision = 'b7e2a4c9d815'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cert_eligibility') as batch:
        batch.add_column(sa.Column('recheck_on', sa.Date(), nullable=True))
        batch.create_index('ix_cert_eligibility_recheck_on', ['recheck_on'], unique=False)
    op.execute(sa.text("UPDATE cert_eligibility SET stale = :yes, version = version + 1").bindparams(yes=True))


def downgrade():
    with op.batch_alter_table('cert_eligibility') as batch:
        batch.drop_index('ix_cert_eligibility_recheck_on')
        batch.drop_column('recheck_on')
