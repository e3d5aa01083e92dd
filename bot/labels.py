"""Display names of the model's enum values, as msgids for the translation catalogs.

Templates translate them with ``_(value)``; listing them here is what
lets the extractor (and the catalog-completeness test) see them.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


ROLES = {"admin": N_("admin"), "manager": N_("manager"), "rep": N_("rep")}

FIELDS = {
    "name": N_("Name"),
    "phones": N_("Phone"),
    "company": N_("Company"),
    "title": N_("Title"),
    "industry": N_("Industry"),
    "gender": N_("Gender"),
    "birthday": N_("Birthday"),
    "email": N_("E-mail"),
    "wechat": N_("WeChat"),
    "telegram": N_("Telegram"),
    "city": N_("City"),
    "address": N_("Address"),
    "source": N_("Source"),
    "referred_by": N_("Referred by"),
    "needs_type": N_("Needs"),
    "tags": N_("Tags"),
    "preferences": N_("Preferences"),
    "notes": N_("Notes"),
}

CHOICES = {
    # gender
    "female": N_("female"),
    "male": N_("male"),
    "other": N_("other"),
    # source
    "referral": N_("referral"),
    "event": N_("event"),
    "ad": N_("ad"),
    "cold_call": N_("cold call"),
    "inbound": N_("inbound"),
    # needs type
    "price": N_("price-sensitive"),
    "quality": N_("quality"),
    "service": N_("service"),
    # industries
    "manufacturing": N_("manufacturing"),
    "wholesale": N_("wholesale"),
    "retail": N_("retail"),
    "software": N_("software"),
    "construction": N_("construction"),
    "logistics": N_("logistics"),
    "food": N_("food & drink"),
    "education": N_("education"),
    "finance": N_("finance"),
    "healthcare": N_("healthcare"),
    "energy": N_("energy"),
    "consulting": N_("consulting"),
}

TIERS = {"high": N_("high value"), "mid": N_("mid value"), "low": N_("low value"), "none": N_("no purchases yet")}
STAGES = {
    "prospect": N_("prospect"),
    "new": N_("new customer"),
    "repeat": N_("repeat customer"),
    "at_risk": N_("at risk"),
    "churned": N_("churned"),
}
INTERACTION_KINDS = {
    "call": N_("call"),
    "visit": N_("visit"),
    "meeting": N_("meeting"),
    "message": N_("message"),
    "email": N_("email"),
    "wechat": N_("WeChat"),
}
FEEDBACK_KINDS = {
    "complaint": N_("complaint"),
    "suggestion": N_("suggestion"),
    "praise": N_("praise"),
    "question": N_("question"),
}
DIRECTIONS = {"outbound": N_("↗ outbound"), "inbound": N_("↙ inbound")}
OUTCOMES = {
    "reached": N_("reached"),
    "no_answer": N_("no answer"),
    "interested": N_("interested"),
    "not_interested": N_("not interested"),
    "quote_sent": N_("quote sent"),
    "deal_won": N_("deal won"),
    "deal_lost": N_("deal lost"),
    "other": N_("other"),
}
SEVERITIES = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}
FEEDBACK_STATUSES = {
    "open": N_("open"),
    "in_progress": N_("in progress"),
    "resolved": N_("resolved"),
    "confirmed": N_("confirmed by the customer"),
}
