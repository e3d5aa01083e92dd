"""Display names of the model's enum values, as msgids for the translation catalogs.

Templates translate them with ``_(value)``; listing them here is what
lets the extractor (and the catalog-completeness test) see them.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


ROLES = {"admin": N_("admin"), "manager": N_("manager"), "rep": N_("rep")}
