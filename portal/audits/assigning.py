"""Who makes a planned visit: an active auditor of the technician's region, never one from the
technician's own outlet, never the technician themselves, the least loaded first (open visits
already held plus those given in this draw), so the region's auditors share the work evenly.
Auditors with no outlet serve the whole network and are asked only when nobody in the region
can go. Nobody left: the visit stays unassigned and the trainers see it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..auth.models import Outlet, Province, User, UserRole
from ..extensions import db
from .models import AuditVisit

NETWORK = None  # the pool key of auditors with no outlet


@dataclass
class Candidate:
    id: int
    outlet_id: int | None
    order: int  # tie-break: the draw's seeded order, else the id


@dataclass
class AuditorPool:
    by_region: dict[int | None, list[Candidate]] = field(default_factory=dict)
    load: dict[int, int] = field(default_factory=dict)

    def pick(self, technician_id: int, outlet_id: int | None, region_id: int | None,
             exclude: frozenset[int] | set[int] = frozenset(), also_outlet: int | None = None) -> int | None:
        """The auditor for one visit (their load counted), or None when nobody may go. Never one
        from ``outlet_id`` (nor ``also_outlet``: the technician's outlet now, when they moved)."""
        outlets = {o for o in (outlet_id, also_outlet) if o is not None}
        for key in ((region_id, NETWORK) if region_id is not None else (NETWORK,)):
            allowed = [c for c in self.by_region.get(key, ())
                       if c.id != technician_id and c.id not in exclude and c.outlet_id not in outlets]
            if allowed:
                chosen = min(allowed, key=lambda c: (self.load.get(c.id, 0), c.order))
                self.load[chosen.id] = self.load.get(chosen.id, 0) + 1
                return chosen.id
        return None


def region_of(outlet_id: int | None) -> int | None:
    if outlet_id is None:
        return None
    return db.session.scalar(select(Province.region_id).join(Outlet, Outlet.province_id == Province.id)
                             .where(Outlet.id == outlet_id))


def load_pool(rng: random.Random | None = None, region_id: int | None = None, *, one_region: bool = False) -> AuditorPool:
    """Every active auditor with the open visits they already hold — or, with ``one_region``, only
    those of ``region_id`` and the network-wide ones (one visit re-assigned: its work does not
    grow with the network). With ``rng``, ties between equally loaded auditors go in the seeded
    order (a draw); without, by id."""
    query = (select(User.id, User.outlet_id, Province.region_id).join(UserRole, UserRole.user_id == User.id)
             .outerjoin(Outlet, User.outlet_id == Outlet.id).outerjoin(Province, Outlet.province_id == Province.id)
             .where(UserRole.role == "auditor", User.active.is_(True)).order_by(User.id))
    if one_region:
        query = query.where(User.outlet_id.is_(None) | (Province.region_id == region_id))
    rows = db.session.execute(query).all()
    order = list(range(len(rows)))
    if rng is not None:
        rng.shuffle(order)
    pool = AuditorPool()
    for (auditor_id, outlet_id, region_id), rank in zip(rows, order):
        key = region_id if outlet_id is not None else NETWORK
        pool.by_region.setdefault(key, []).append(Candidate(auditor_id, outlet_id, rank))
    load = select(AuditVisit.auditor_id, func.count()).where(AuditVisit.status == "open",
                                                              AuditVisit.auditor_id.is_not(None))
    if one_region:
        load = load.where(AuditVisit.auditor_id.in_([row[0] for row in rows]))
    pool.load = dict(db.session.execute(load.group_by(AuditVisit.auditor_id)).all())
    return pool


def reassign(visit: AuditVisit, exclude: set[int]) -> int | None:
    """Give ``visit`` to the next auditor (not one in ``exclude``: those who handed it back, and
    whoever holds it now); sets ``visit.auditor_id`` and returns it (None: nobody can). The
    technician's outlet now counts as well as the one at the draw (they may have moved): the
    region is the current one's. No commit."""
    now_at = db.session.scalar(select(User.outlet_id).where(User.id == visit.technician_id))
    where = now_at if now_at is not None else visit.outlet_id
    region = region_of(where)
    chosen = load_pool(region_id=region, one_region=True).pick(visit.technician_id, visit.outlet_id, region, exclude,
                                                               also_outlet=now_at)
    visit.auditor_id = chosen
    return chosen
