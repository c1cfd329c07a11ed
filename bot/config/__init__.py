"""The casebot configuration: one YAML file, validated at start with clear errors.

Support leads write this file by hand, so every mistake is reported at once, each as
``key.path: reason`` (``people[2] (chiara).skills.bilin: unknown product area ...``), and
keys casebot does not know are warned about rather than refused, so a typo never goes
unnoticed and a newer file still loads. Secrets never live here: they come from the
environment.

The package is split by concern; every name is re-exported here:

* :mod:`bot.config.sections`: the per-section models (Support, Team, Person, Shift, ...);
* :mod:`bot.config.schema`: :class:`Config` and its lookups;
* :mod:`bot.config.checks`: the cross-section checks and the error formatting;
* :mod:`bot.config.loading`: YAML loading, :class:`ConfigError` and the config path.
"""

from __future__ import annotations

from bot.config.checks import check_config
from bot.config.loading import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path_from_env,
    load_config,
    parse_config,
)
from bot.config.schema import NON_PLATFORMS, Config
from bot.config.sections import (
    SEVERITIES,
    Account,
    ChaseStep,
    Email,
    Escalation,
    Impact,
    Person,
    PersonRole,
    Priority,
    ProductArea,
    Severity,
    Shift,
    Sla,
    Support,
    Survey,
    Team,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "NON_PLATFORMS",
    "SEVERITIES",
    "Account",
    "ChaseStep",
    "Config",
    "ConfigError",
    "Email",
    "Escalation",
    "Impact",
    "Person",
    "Priority",
    "ProductArea",
    "PersonRole",
    "Severity",
    "Shift",
    "Sla",
    "Support",
    "Survey",
    "Team",
    "check_config",
    "config_path_from_env",
    "load_config",
    "parse_config",
]
