"""The records layer: what is read across every domain below it — a technician's record
(record.py), the trainers' dashboard and overdue list (dashboard.py), the technician list and
record pages (technicians.py), the record API (api.py) and the daily run (daily.py)."""
