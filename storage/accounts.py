"""Accounts and configured people in the database follow the configuration file."""

from __future__ import annotations

from bot.config import Config
from storage.db import Database
from storage.models import AccountRow, PersonRow


async def sync_people(db: Database, config: Config) -> None:
    async with db.transaction() as s:
        for a in config.accounts:
            row = await s.get(AccountRow, a.key)
            if row is None:
                s.add(AccountRow(key=a.key, name=a.name, tier=a.tier, csm_id=a.csm, phone=a.phone))
            else:
                row.name, row.tier, row.csm_id, row.phone = a.name, a.tier, a.csm, a.phone
        for p in config.people:
            prow = await s.get(PersonRow, p.id)
            if prow is None:
                s.add(
                    PersonRow(
                        id=p.id,
                        name=p.name,
                        role=p.role,
                        team=p.team,
                        account_key=p.account,
                        configured=True,
                        identities=dict(p.identities),
                    )
                )
            else:
                prow.name, prow.role, prow.team = p.name, p.role, p.team
                prow.account_key, prow.identities = p.account, dict(p.identities)
                prow.configured = True
