"""Configurations that load and would still leave work with nobody: a product area no
engineer has a skill in (its cases are never auto-assigned) and a severity without a
service-level target (its cases are never warned about or escalated for time). These
are warnings, printed by ``casebot config check`` and at start-up."""

from __future__ import annotations

from bot.config.schema import SEVERITIES, Config


def coverage_warnings(config: Config) -> list[str]:
    warnings: list[str] = []
    engineers = config.engineers()
    for i, area in enumerate(config.product_areas):
        if not any(p.skills.get(area.key, 0) > 0 for p in engineers):
            warnings.append(
                f"product_areas[{i}] ({area.key}): no engineer has a skill in it, so its "
                "cases are never auto-assigned (add it to someone's skills)"
            )
    if not config.sla.first_response and not config.sla.resolution:
        warnings.append(
            "sla: no targets set, so no case is ever warned about or escalated for time"
        )
        return warnings
    for target in ("first_response", "resolution"):
        goals = getattr(config.sla, target)
        missing = [s for s in SEVERITIES if s not in goals]
        if missing:
            warnings.append(
                f"sla.{target}: no target for {', '.join(missing)}, so those cases are "
                "never warned about or escalated for time"
            )
    return warnings
