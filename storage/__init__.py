"""Persistence: models, migrations, search, accounts, coordination."""

# Tables defined outside storage/models.py join Base.metadata here (an import from
# models.py itself would be a cycle: these modules import Base from it).
from storage import search_models as _search_models  # noqa: F401  (kb_chunks)
