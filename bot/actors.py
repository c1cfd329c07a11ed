"""Who acts: the roles casebot knows, an acting person, and the system itself.

The one place that defines the role words (``customer``, ``engineer``, ``csm``,
``lead``); the configuration, the policy table and the views ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    ENGINEER = "engineer"
    CSM = "csm"
    LEAD = "lead"
    SYSTEM = "system"  # timers and the bot's own moves; never a configured person


# The roles a configured person may have (everything but the system).
PEOPLE_ROLES: tuple[Role, ...] = (Role.CUSTOMER, Role.ENGINEER, Role.CSM, Role.LEAD)
STAFF: frozenset[Role] = frozenset({Role.ENGINEER, Role.CSM, Role.LEAD})
# Roles that do engineers' work (the lead can do everything an engineer can).
ENGINEERING: frozenset[Role] = frozenset({Role.ENGINEER, Role.LEAD})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a configured person, a customer recognised by their account's
    channel or role, or the system itself (timers)."""

    id: str
    name: str
    role: Role
    account_key: str | None = None
    platform: str = "console"

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_engineer(self) -> bool:
        """Engineers and leads do engineers' work (the lead can do everything)."""
        return self.role in ENGINEERING

    @property
    def is_lead(self) -> bool:
        return self.role == Role.LEAD

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def is_system(self) -> bool:
        return self.role == Role.SYSTEM


SYSTEM = Actor(id="casebot", name="casebot", role=Role.SYSTEM)
