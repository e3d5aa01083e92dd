"""When a customer's derived tier, stage or churn risk can next change with time alone.

The daily scan (``bot.services.reminder_generation``) re-assesses a customer
when their records changed, or on the day returned here: the first day after
``today`` on which :func:`bot.domain.classification.classify` or the churn
scan's at-risk decision (:func:`bot.domain.churn.score`) may come out
differently with the same records. Pure functions; nothing is missed as long
as every day a comparison in those rules flips is a *candidate* (extra
candidates only cost a re-assessment):

- classification compares whole days with thresholds: a purchase enters and
  leaves the tier window, the stage's churned / at-risk / overdue / new
  thresholds are crossed on one computable day each;
- the churn score's inputs change on computable days (an interaction or a
  rating moving into the past, a rating or purchase ageing out of its
  window — the day of the moment and the day after, as the scan's time of
  day is not known), and between two such days the score only grows (the
  no-contact and overdue-purchase points rise with the days), so the
  at-risk decision flips at most once there, from "not at risk" to "at
  risk": the first such day is found by bisection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta

from bot.domain import churn
from bot.domain.classification import ClassificationRules, last_contact, usual_gap_days
from bot.domain.models import Customer, Feedback, Interaction, Purchase


def _first_after(days: Iterable[date], today: date) -> date | None:
    return min((d for d in days if d > today), default=None)


def classification_change(customer: Customer, purchases: Sequence[Purchase],
                          interactions: Sequence[Interaction], now: datetime,
                          rules: ClassificationRules) -> date | None:
    """The first day after ``now``'s on which ``classify`` may differ (``now`` as ``classify`` gets it)."""
    if not purchases:
        return None  # a prospect stays one until a purchase (a write) arrives
    today = now.date()
    purchase_days = [p.purchased_on for p in purchases]
    days: list[date] = []
    for day in purchase_days:
        days += [day, day + timedelta(days=rules.window_days)]
    first, last = min(purchase_days), max(purchase_days)
    contact = last_contact(customer, interactions)
    contact_day = max(last, contact.astimezone(now.tzinfo).date()) if contact else last
    overdue_after = round(rules.at_risk_factor * usual_gap_days(purchase_days, rules))
    days += [contact_day + timedelta(days=rules.churned_days + 1),
             contact_day + timedelta(days=rules.at_risk_days + 1),
             last + timedelta(days=overdue_after + 1),
             first + timedelta(days=rules.new_days + 1)]
    return _first_after(days, today)


def _moment_days(moment: datetime, now: datetime) -> list[date]:
    day = moment.astimezone(now.tzinfo).date()
    return [day, day + timedelta(days=1)]


def churn_breakpoints(customer: Customer, purchases: Sequence[Purchase],
                      interactions: Sequence[Interaction], feedback: Sequence[Feedback],
                      now: datetime, rules: churn.ChurnRules) -> date | None:
    """The first day after ``now``'s on which an input of the churn score other than elapsed days changes."""
    today = now.date()
    days: list[date] = []
    for interaction in interactions:
        if interaction.occurred_at > now - timedelta(days=1):  # older ones are in the past for good
            days += _moment_days(interaction.occurred_at, now)
    window = rules.frequency_window_days
    for purchase in purchases:
        d = purchase.purchased_on
        days += [d, d + timedelta(days=window), d + timedelta(days=2 * window)]
    for item in feedback:
        rated = churn._rated_at(item)
        days += _moment_days(rated, now)
        days += _moment_days(rated + timedelta(days=rules.rating_window_days), now)
    return _first_after(days, today)


def next_change(today: date, boundary: date | None, at_risk_now: bool,
                at_risk_on: Callable[[date], bool], horizon: int = 800) -> date | None:
    """The first day after ``today`` the at-risk decision may flip, up to ``boundary`` (exclusive end).

    ``at_risk_on(day)`` assesses ``day``; between ``today`` and ``boundary``
    the score never falls, so a customer at risk stays so until the boundary,
    and one not at risk flips on the first day the score reaches the
    threshold (bisection over the days). No boundary: look ``horizon`` days
    ahead (the points stop growing within 2 × the longest cadence).
    """
    end = boundary or today + timedelta(days=horizon)
    if at_risk_now or not at_risk_on(end - timedelta(days=1)):
        return boundary
    lo, hi = 1, (end - today).days - 1  # at_risk_on(today + hi) holds
    while lo < hi:
        mid = (lo + hi) // 2
        if at_risk_on(today + timedelta(days=mid)):
            hi = mid
        else:
            lo = mid + 1
    return today + timedelta(days=lo)
