"""login_attempt.device: a trusted device counts its own sign-in failures

The sign-in lockout becomes a growing delay; a device an account signed in on before has
its own failure count, so a stranger's guesses cannot keep the real user out. Existing rows
came from no known device: "".

Revision ID: c4f1a8e23d57
Revises: a7d3c2e19b40
Created: 2026-12-06 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4f1a8e23d57'
down_revision = 'a7d3c2e19b40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_attempt') as batch:
        batch.add_column(sa.Column('device', sa.String(length=32), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('login_attempt') as batch:
        batch.drop_column('device')
