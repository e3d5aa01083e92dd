"""The one table of display names, as msgids for the translation catalogs.

Every label a user reads for a *code* is here: enum values (tiers, stages,
interaction kinds, …), report figures, churn and classification reasons,
chart texts and export headers.  The domain returns codes and numbers; this
module turns them into text through a translator (``bot.i18n.gettext_for``:
``_(msgid)`` and ``_.ngettext``), and templates translate the same msgids with
``_(value)``.  There is no language in here: the text of each language lives
in ``bot/locales/<lang>/LC_MESSAGES/messages.po``.

Markers (no-ops at run time) let the extractor and the catalog-completeness
test (``tests/bot/test_i18n.py``) see every msgid:

- ``N_("msgid")`` — a plain msgid;
- ``NP_("singular", "plural", "param")`` — a plural msgid, chosen by
  ``ngettext`` with the number in ``params[param]``;
- ``NC_("context", "msgid")`` — a msgid with a context (``pgettext``), where
  one English word needs two translations ("Feedback": the figure and the sheet name).

Extract with
``pybabel extract -F babel.cfg -k N_ -k NP_:1,2 -k NC_:1c,2 -o messages.pot .``.

Slots are ``%(name)s`` (gettext's python-format), filled from a reason's or a
figure's params.  Labels start in lower case so they can stand inside a
sentence; where one stands alone (a table cell, a chart axis) :func:`heading`
capitalises its first letter, which changes nothing in Chinese.

One term per concept, used everywhere (the zh catalog holds them): see the
comment below.
"""
# Chosen Chinese terms: cold call = 陌生拜访 (not 陌拜), at risk = 有流失风险 (not 流失风险),
# no tier = 尚未购买 (not 未分级), title = 职位 (not 职务), NPS = NPS (not 推荐度),
# value tier = 价值分级 (not 价值等级).

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, Protocol


class Gettext(Protocol):
    """What renders a label: ``bot.i18n.Translator`` (gettext with ``ngettext``)."""

    def __call__(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def pgettext(self, context: str, message: str) -> str: ...


class Plural(NamedTuple):
    singular: str
    plural: str
    count: str  # the param holding the number that chooses the form


class Context(NamedTuple):
    context: str
    message: str


def N_(message: str) -> str:
    return message


def NP_(singular: str, plural: str, count: str) -> Plural:
    return Plural(singular, plural, count)


def NC_(context: str, message: str) -> Context:
    return Context(context, message)


Msg = str | Plural | Context


# ---------------------------------------------------------------------------
# Enum values
# ---------------------------------------------------------------------------

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
    # source (and "other")
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

TIERS = {
    "high": N_("high value"),
    "mid": N_("mid value"),
    "low": N_("low value"),
    "none": N_("no purchases yet"),
}
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

# ---------------------------------------------------------------------------
# Report figures (``bot.domain.reports`` comparison keys; "revenue:CNY" fills the currency)
# ---------------------------------------------------------------------------

FIGURES = {
    "new_customers": N_("New customers"),
    "interactions": N_("Interactions"),
    "active_reps": N_("Active reps"),
    "follow_ups_due": N_("Follow-ups due"),
    "follow_ups_on_time": N_("Follow-ups on time"),
    "follow_ups_overdue": N_("Follow-ups overdue"),
    "follow_up_on_time_rate": N_("Follow-up on-time rate"),
    "feedback": N_("Feedback"),
    "complaints": N_("Complaints"),
    "avg_resolution_hours": N_("Avg. resolution (hours)"),
    "csat": N_("CSAT (1–5)"),
    "nps": N_("NPS"),
    "purchases": N_("Purchases"),
    "revenue": N_("Revenue (%(currency)s)"),
    "clv_average": N_("Average CLV (%(currency)s)"),
}

# ---------------------------------------------------------------------------
# Reasons: churn (``bot.domain.churn.ReasonCode``) and classification
# (``bot.domain.classification.Reason``); params fill the slots
# ---------------------------------------------------------------------------

CHURN_REASONS: dict[str, Msg] = {
    "no_contact": NP_(
        "no contact for %(days)s day, usual every %(usual)s",
        "no contact for %(days)s days, usual every %(usual)s",
        "days",
    ),
    "purchase_overdue": NP_(
        "no purchase for %(days)s day, usual every %(usual)s",
        "no purchase for %(days)s days, usual every %(usual)s",
        "days",
    ),
    "purchase_frequency_falling": NP_(
        "%(recent)s purchase in the last %(days)s days, %(before)s in the %(days)s days before",
        "%(recent)s purchases in the last %(days)s days, %(before)s in the %(days)s days before",
        "recent",
    ),
    "open_complaints": NP_("%(count)s open complaint", "%(count)s open complaints", "count"),
    "low_csat": N_("low satisfaction: CSAT %(csat)s/5"),
    "nps_detractor": N_("NPS %(nps)s/10 (detractor)"),
    "reorder_overdue": NP_(
        "reorder %(days)s day late (usually every %(usual)s days, ±%(tolerance)s)",
        "reorder %(days)s days late (usually every %(usual)s days, ±%(tolerance)s)",
        "days",
    ),
}

CLASSIFICATION_REASONS: dict[str, Msg] = {
    "tier.no_purchases": N_("no purchases yet"),
    "tier.high_revenue": N_(
        "%(revenue)s in the last %(window_days)s days (high value from %(threshold)s)"
    ),
    "tier.frequent_buyer": NP_(
        "%(revenue)s from %(purchases)s purchase in the last %(window_days)s days",
        "%(revenue)s from %(purchases)s purchases in the last %(window_days)s days",
        "purchases",
    ),
    "tier.mid_revenue": N_(
        "%(revenue)s in the last %(window_days)s days (mid value from %(threshold)s)"
    ),
    "tier.mid_frequency": NP_(
        "%(purchases)s purchase in the last %(window_days)s days",
        "%(purchases)s purchases in the last %(window_days)s days",
        "purchases",
    ),
    "tier.low": NP_(
        "%(revenue)s from %(purchases)s purchase in the last %(window_days)s days",
        "%(revenue)s from %(purchases)s purchases in the last %(window_days)s days",
        "purchases",
    ),
    "tier.override": N_("value tier set by hand (automatic: %(derived)s)"),
    "stage.never_purchased": N_("never bought"),
    "stage.inactive": NP_(
        "no purchase and no contact for %(days)s day",
        "no purchase and no contact for %(days)s days",
        "days",
    ),
    "stage.purchase_overdue": CHURN_REASONS["purchase_overdue"],  # {usual} = usual_gap_days
    "stage.no_contact": NP_("no contact for %(days)s day", "no contact for %(days)s days", "days"),
    "stage.one_purchase": NP_(
        "one purchase, %(days)s day ago", "one purchase, %(days)s days ago", "days"
    ),
    "stage.recent_first_purchase": NP_(
        "first purchase %(days)s day ago", "first purchase %(days)s days ago", "days"
    ),
    "stage.repeat_purchases": NP_("%(purchases)s purchase", "%(purchases)s purchases", "purchases"),
    "stage.override": N_("stage set by hand (automatic: %(derived)s)"),
}

# ---------------------------------------------------------------------------
# The report chart and the exported files
# ---------------------------------------------------------------------------

CHART = {
    "title_all": N_("Everyone's report"),
    "title_team": N_("Team report: %(name)s"),
    "title_rep": N_("Report: %(name)s"),
    "activity": N_("Interactions per rep"),
    "tiers": N_("Customers by value tier"),
    "stages": N_("Customers by stage"),
    "others": N_("Others (%(n)s, avg.)"),
    "no_activity": N_("No interactions in this period"),
    "inactive": NP_("%(n)s rep with no activity", "%(n)s reps with no activity", "n"),
}

EXPORT: dict[str, Msg] = {
    # sheet names (Excel: at most 31 characters, no []:*?/\)
    "sheet_summary": NC_("sheet", "Summary"),
    "sheet_reps": NC_("sheet", "Interactions by rep"),
    "sheet_feedback": NC_("sheet", "Feedback"),
    "sheet_mix": NC_("sheet", "Tiers and stages"),
    "sheet_at_risk": NC_("sheet", "At risk"),
    "sheet_clv": NC_("sheet", "CLV"),
    "sheet_customers": NC_("sheet", "Customers"),
    "sheet_reorders": NC_("sheet", "Expected reorders"),
    # summary
    "figure": N_("Figure"),
    "current": N_("This period"),
    "previous": N_("Previous period"),
    "change": N_("Change"),
    "direction": N_("Direction"),
    "period_start": N_("Period start"),
    "period_end": N_("Period end (last day)"),
    "generated_at": N_("Generated at"),
    # reps
    "rep": N_("Rep"),
    "rep_id": N_("Rep ID"),
    "on_time": N_("Follow-ups on time"),
    "overdue": N_("Follow-ups overdue"),
    "active": N_("Active"),
    "yes": N_("yes"),
    "no": N_("no"),
    # feedback, mix
    "group": N_("Group"),
    "value": N_("Value"),
    "count": N_("Count"),
    "movement": N_("Change since snapshot"),
    "by_kind": N_("By kind"),
    "by_status": N_("By status"),
    "ratings": N_("Ratings"),
    "tier": N_("Value tier"),
    "stage": N_("Stage"),
    "resolved": N_("Resolved in period"),
    "csat_count": N_("CSAT answers"),
    "nps_count": N_("NPS answers"),
    "promoters": N_("Promoters (9–10)"),
    "passives": N_("Passives (7–8)"),
    "detractors": N_("Detractors (0–6)"),
    # at risk, CLV
    "customer": N_("Customer"),
    "customer_id": N_("Customer ID"),
    "owner": N_("Owner"),
    "score": N_("Risk score"),
    "reasons": N_("Reasons"),
    "currency": N_("Currency"),
    "orders": N_("Orders"),
    "total": N_("Total spent"),
    "first_purchase": N_("First purchase"),
    "observed_days": N_("Observed days"),
    "aov": N_("Average order value"),
    # expected reorders
    "expected_on": N_("Expected around"),
    "tolerance_days": N_("± days"),
    "interval_days": N_("Usual interval (days)"),
    "expected_amount": N_("Expected amount"),
    "orders_per_year": N_("Orders per year"),
    "lifetime_years": N_("Lifetime (years)"),
    "clv": N_("CLV"),
    # customers (the card's own field names where the column is a card field)
    "phones": N_("Phones"),
    "created": N_("Created"),
    "last_contact": N_("Last contact"),
    "next_follow_up": N_("Next follow-up"),
    "archived": N_("Archived"),
    "other_handles": N_("Other contacts"),
    "team": N_("Team"),
    "created_by": N_("Created by"),
    "updated": N_("Updated"),
    "location": N_("Location (lat, lon)"),
}


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def heading(text: str) -> str:
    """``text`` with a capital first letter, for a label standing alone (a no-op in Chinese)."""
    return text[:1].upper() + text[1:]


def name(table: Mapping[str, Msg], key: Any, _: Gettext, default: str | None = None) -> str:
    """The translated display name of ``key`` in ``table``; ``default`` (else the key) if unknown."""
    message = table.get(key) if isinstance(key, str) else None
    if message is None:
        return str(key) if default is None else default
    return sentence(message, {}, _)


def sentence(message: Msg, params: Mapping[str, Any], _: Gettext) -> str:
    """A msgid translated (a plural one by its count param, a context one with ``pgettext``)
    and filled with ``params``."""
    if isinstance(message, Plural):
        count = params.get(message.count, 0)
        template = _.ngettext(message.singular, message.plural, count if isinstance(count, int) else 0)
    elif isinstance(message, Context):
        template = _.pgettext(message.context, message.message)
    else:
        template = _(message)
    return template % dict(params) if params else template


def figure(key: str, _: Gettext) -> str:
    """The display name of a report figure: ``revenue:CNY`` → "Revenue (CNY)"; unknown keys as they are."""
    base, _sep, currency = key.partition(":")
    msgid = FIGURES.get(base)
    if msgid is None:
        return key
    return _(msgid) % {"currency": currency} if "%(currency)s" in msgid else _(msgid)


def churn_reason(reason: Any, _: Gettext) -> str:
    """One churn reason (a ``bot.domain.churn.Reason``) as a plain sentence.

    An unknown code (a payload from a newer version) or params that do not fit
    render as the bare code rather than failing a reminder.
    """
    code = str(reason.code)
    message = CHURN_REASONS.get(code)
    if message is None:
        return code
    try:
        return sentence(message, reason.params, _)
    except (KeyError, ValueError, TypeError):
        return code


def churn_reasons(reasons: Iterable[Any], _: Gettext) -> list[str]:
    """One sentence per churn reason, in the translator's language."""
    return [churn_reason(reason, _) for reason in reasons]


def classification_reason(reason: Any, _: Gettext, money: Callable[[Decimal], str]) -> str:
    """One classification reason (``bot.domain.classification.Reason``) as a plain phrase.

    ``money`` formats the amounts (revenue, thresholds) in the team's currency;
    the tier or stage an override replaced is named with the enum's own label.
    """
    code = str(reason.code)
    message = CLASSIFICATION_REASONS.get(code)
    if message is None:
        return code
    params = dict(reason.params)
    for key in ("revenue", "threshold"):
        if isinstance(params.get(key), Decimal | int):
            params[key] = money(Decimal(params[key]))
    if "usual_gap_days" in params:
        params["usual"] = params["usual_gap_days"]
    if code == "tier.override":
        params["derived"] = name(TIERS, params.get("derived") or "none", _)
    elif code == "stage.override":
        params["derived"] = name(STAGES, params.get("derived"), _)
    try:
        return sentence(message, params, _)
    except (KeyError, ValueError, TypeError):
        return code


DIRECTION_SIGNS = {"up": "▲", "down": "▼", "same": "＝"}
"""How a comparison's direction (``bot.domain.reports.Comparison.direction``) is shown."""


# ---------------------------------------------------------------------------
# Change history and the audit export (issue 13)
# ---------------------------------------------------------------------------

RECORD_FIELDS = {
    # customer fields that are not card fields (the card's own are ``FIELDS``)
    "owner_id": N_("Owner"),
    "team": N_("Team"),
    "value_tier": N_("Value tier"),
    "value_tier_override": N_("Value tier (manual)"),
    "stage": N_("Stage"),
    "stage_override": N_("Stage (manual)"),
    "last_contact_at": N_("Last contact"),
    "next_follow_up_at": N_("Next follow-up"),
    "archived": N_("Archived"),
    "created_by": N_("Created by"),
    "other": N_("Other handle"),
}
AUDIT_ACTIONS = {
    "create": N_("created"),
    "update": N_("edited"),
    "archive": N_("archived"),
    "restore": N_("restored"),
    "reassign": N_("reassigned"),
    "purge": N_("deleted for good"),
    "delete": N_("deleted"),
    "status": N_("status changed"),
    "role_change": N_("role changed"),
    "deactivate": N_("deactivated"),
    "reactivate": N_("reactivated"),
    "revoke": N_("revoked"),
    "export": N_("exported"),
    "backup": N_("backed up"),
    "card_request": N_("card asked for"),
    "card_request_declined": N_("card request declined"),
}
AUDIT_ENTITIES = {
    "customer": N_("customer"),
    "interaction": N_("contact"),
    "feedback": N_("feedback"),
    "purchase": N_("purchase"),
    "staff": N_("staff"),
    "invitation": N_("invitation"),
    "audit": N_("audit log"),
    "customers": N_("customer list"),
    "report": N_("report"),
    "archive": N_("all data (archive)"),
}
AUDIT_COLUMNS = (
    N_("Time (%(timezone)s)"),
    N_("Staff id"),
    N_("Staff name"),
    N_("Action"),
    N_("Record type"),
    N_("Record id"),
    N_("Changes"),
    N_("Note"),
)
YES_NO = {True: N_("yes"), False: N_("no")}


# Interaction kinds: an icon each, and the wording an outcome or a direction has for that kind
# (a visit "met the customer", a message "replied"); the rest read as ``OUTCOMES``/``DIRECTIONS``.
INTERACTION_ICONS = {"call": "📞", "visit": "🚶", "meeting": "🤝", "message": "💬", "email": "📧",
                     "wechat": "🟢"}
_WRITTEN_OUTCOMES = {"reached": N_("replied"), "no_answer": N_("no reply yet")}
OUTCOMES_BY_KIND: dict[str, dict[str, str]] = {
    "visit": {"reached": N_("met the customer"), "no_answer": N_("customer not there")},
    "meeting": {"reached": N_("meeting held")},
    "message": _WRITTEN_OUTCOMES,
    "email": _WRITTEN_OUTCOMES,
    "wechat": _WRITTEN_OUTCOMES,
}
WRITTEN_DIRECTIONS = {"outbound": N_("↗ sent"), "inbound": N_("↙ received")}


def outcome_labels(kind: str | None) -> dict[str, str]:
    """``OUTCOMES`` in the wording of ``kind``."""
    return {**OUTCOMES, **OUTCOMES_BY_KIND.get(kind or "call", {})}


def direction_labels(kind: str | None) -> dict[str, str]:
    """``DIRECTIONS`` in the wording of ``kind`` (a message is sent or received)."""
    return WRITTEN_DIRECTIONS if kind in ("message", "email", "wechat") else DIRECTIONS


# What a feedback item's status buttons say: the move to that status.
FEEDBACK_STATUS_ACTIONS = {
    "in_progress": N_("▶️ In progress"),
    "resolved": N_("✅ Resolved…"),
    "confirmed": N_("🤝 Customer confirmed"),
    "open": N_("↩️ Reopen"),
}

REMINDER_KINDS = {
    "follow_up": N_("follow-up"),
    "birthday": N_("birthday greetings"),
    "festival": N_("festival greetings"),
    "churn_warning": N_("churn warning"),
    "feedback_overdue": N_("overdue feedback"),
    "complaint_alert": N_("complaint"),
    "daily_agenda": N_("daily agenda"),
    "weekly_report": N_("weekly report"),
    "monthly_report": N_("monthly report"),
    "catch_up": N_("downtime beyond the catch-up horizon"),
    "delivery_failures": N_("delivery failures"),
    "todo_due": N_("to-do"),
    "todo_assigned": N_("new to-do"),
    "reorder": N_("reorder due"),
}
