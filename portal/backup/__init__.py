"""``flask backup DIR`` and ``flask restore DIR``: the database and the uploads, with a manifest.

A backup folder holds::

    manifest.json       format, schema revision, database kind, time, size and SHA-256 of every file
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    database.pgdump     PostgreSQL: ``pg_dump --format=custom``
    uploads/…           the instance folder's uploads (knowledge-base and audit photos)

Not in it: the search index (derived from the database; restore rebuilds it) and the instance's
generated secret key (see cli.py). ``archive`` does the copying and checking and knows no domain;
``cli`` is the two commands, which also rebuild the knowledge base's search index.
"""
