"""Manager reports (issue 8): the figures, as pure functions over plain records.

One module per idea: ``periods`` (what a period is), ``inputs`` (what the
caller passes, and the knobs), ``activity`` (interactions, new customers,
purchases and follow-ups per rep: the hot loop), ``feedback`` (counts,
resolution time, CSAT, NPS), ``customers`` (tier/stage mix, movement, most at
risk), ``clv``, ``comparisons`` (now against the previous period) and
``report`` (:func:`compute_report`, which puts them together).  Import from
the package: ``from bot.domain.reports import Period, compute_report``.

The figures are codes and numbers; their display names are msgids in
``bot.labels`` (``FIGURES``, the enum tables), rendered by the chart, the
spreadsheet and the message in the reader's language.

A manager asks "how did my team do this week?" and gets one message, one chart
and, on request, a spreadsheet.  Everything those show is computed here, from
plain lists the caller has already narrowed to the manager's scope (their team,
or everything for an admin), with the time passed in — no store, no clock, no
Telegram, no matplotlib — so the numbers are testable by hand and cheap:
a month of a 50-rep team (10 000 customers, 100 000 interactions, 20 000
purchases, 2 000 feedback) computes in well under a second (``bench/reports.py``).

What the caller passes (:class:`ReportData`): every record of the scope it has,
at least those from the start of :meth:`Period.previous` up to ``now`` —
figures for the previous period are needed for the comparisons, and a
follow-up due in the period may have been set before it and done after it.
Records outside the periods are ignored, never counted.

Definitions (the ones a manager will ask about):

- A moment belongs to a period when ``start <= moment < end`` (aware datetimes,
  so an interaction at 23:30 Beijing time on the last day is inside even though
  it is 15:30 UTC).  A purchase has only a date (``purchased_on``, a calendar
  date in the business time zone); it belongs when that day's local midnight
  does.
- **Deleted** interactions and feedback never count.  **Archived** customers do
  not count as new customers, in the tier/stage mix or in CLV: archiving is how a
  card created by mistake goes away.
- **New customers**: cards created (``created_at``) in the period.
- **Interactions** by kind and by rep: interactions that occurred in the period,
  credited to ``Interaction.owner_id`` (the rep who logged them).
- **Rep activity**: interactions logged, new customers, purchases and feedback
  recorded in the period (by ``owner_id``).  A **rep with no activity** is an
  active staff member with the *rep* role who has none of the four.
- **Follow-ups**: a follow-up is a (customer, due time) pair from a non-deleted
  interaction's ``next_follow_up_at`` — or from a pending/sent follow-up
  :class:`~bot.domain.models.Reminder` — whose due time falls in the period;
  pairs found twice count once.  It was **done on time** when a later
  non-deleted interaction with that customer (after the one that set it, or
  after the reminder was created) occurred before ``due + grace`` (grace 1 day:
  a call the morning after is not a miss).  It is **overdue** when ``due + grace``
  has passed (at ``now``) without one — even if the customer was called later
  (``late`` counts those).  Otherwise it is **pending**.  The on-time rate is
  ``on_time / (on_time + overdue)``: pending ones are not decided yet.
- **Feedback** by kind and by status: feedback created in the period (status as
  it is now).  **Average resolution time**: ``resolved_at − created_at`` in hours
  over feedback *resolved* in the period — created-in-period would leave out
  the slow cases still open.  **CSAT** (average of 1–5) and **NPS**
  (% promoters 9–10 − % detractors 0–6, −100…100) over feedback whose rating was
  given in the period; a rating is taken to be given when the feedback was
  confirmed, else resolved, else created (as in ``bot.domain.churn``).
- **Revenue**: the sum of ``Purchase.amount`` (a purchase's total) per currency —
  never added across currencies — and the number of purchases, in the period,
  archived customers' purchases included (the money did come in).
- **Tier and stage mix**: current non-archived customers by *effective* value
  tier (``none`` for a prospect with no tier) and lifecycle stage.  Stage and
  tier history is not stored, so the mix is "as of now", whatever the period,
  and **movement** is only the change in counts against a snapshot of an
  earlier report (:meth:`Report.snapshot`, stored by the caller) when one is
  passed in; otherwise it is omitted (``None``), never guessed.  Counts cannot
  say *which* customers moved: 3 customers up from mid to high and 3 down look
  like no movement.
- **At-risk customers**: scored elsewhere (``bot.domain.churn``); the report
  keeps the top N by score.
- **CLV**: see ``docs/clv.md`` and :func:`clv_estimates`.
- **Comparisons**: each headline figure with its value for the previous period,
  the difference and a direction (up / down / same) (nothing when either side has no
  value, e.g. no CSAT given).  Whether up is good is in ``higher_is_better``
  (``False`` for overdue follow-ups, complaints and resolution time).
"""

from __future__ import annotations

from bot.domain.reports.activity import FollowUpStats, RepActivity
from bot.domain.reports.clv import CENT, ClvEstimate, ClvSummary, clv_estimates
from bot.domain.reports.comparisons import DOWN, SAME, UP, Comparison, Number
from bot.domain.reports.customers import NO_TIER, AtRiskRow
from bot.domain.reports.feedback import FeedbackStats
from bot.domain.reports.inputs import DAYS_PER_YEAR, AtRiskInput, ReportData, ReportSettings
from bot.domain.reports.periods import Period, PeriodKind
from bot.domain.reports.report import Report, compute_report

__all__ = [
    "CENT",
    "DAYS_PER_YEAR",
    "DOWN",
    "NO_TIER",
    "SAME",
    "UP",
    "AtRiskInput",
    "AtRiskRow",
    "ClvEstimate",
    "ClvSummary",
    "Comparison",
    "FeedbackStats",
    "FollowUpStats",
    "Number",
    "Period",
    "PeriodKind",
    "RepActivity",
    "Report",
    "ReportData",
    "ReportSettings",
    "clv_estimates",
    "compute_report",
]
