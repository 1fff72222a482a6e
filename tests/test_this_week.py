"""Page 1's 'This week, do this' (issue 33): actions with counts and reasons, the first
customers to call, and columns that do not tell personas apart left out and said."""

from __future__ import annotations

from dataclasses import replace

from reporter.brief.this_week import CALL_FIRST, MAX_ACTIONS, flat_columns, this_week
from reporter.brief.view import (
    TABLE_FEATURES,
    ChangesView,
    FlaggedCustomer,
    FlagSection,
    PersonaRow,
    Units,
)


def _persona(name: str, size: int, spend_share: float, recency: float, spend: float) -> PersonaRow:
    figures = {"income": spend * 50, "total_spending": spend, "recency": recency,
               "total_purchases": spend / 75}
    return PersonaRow(name, "#123456", "", (0,), size, 0.25, spend_share, figures, {}, {}, None,
                      (), "", (), ())


PERSONAS = (_persona("Premium", 438, 0.5, 49, 1425), _persona("Deal Seekers", 373, 0.05, 49, 151),
            _persona("Low Engagement", 546, 0.05, 47, 104))


def _flag(new_count: int | None = None, new_ids: tuple[int, ...] = ()) -> FlagSection:
    top = tuple(FlaggedCustomer(i, "Premium", {"income": 80_000, "total_spending": 3000 - i,
                                               "recency": 61 + i, "total_purchases": 20},
                                new=i in new_ids, other_ids="6024" if i == 3 else "")
                for i in range(1, 9))
    return FlagSection("Churn Risk", "#c0392b", "Valuable customers who have not bought for two months.",
                       401, 0.19, 0.3, (("Premium", 174), ("Deal Seekers", 20)), "total_spending",
                       top, ("Send a win-back offer within 7 days.",), new_count,
                       "changes/new_churn_risk.csv", "churn_risk.csv")


def test_actions_carry_counts_reasons_and_files_and_stop_at_three():
    changes = ChangesView("070000-abcd", "2014-06-22", (), (), {}, 10, 5, 30, ())
    week = this_week(PERSONAS, (_flag(12, (2,)),), changes, {"Churn Risk": {"Premium": 9}},
                     Units(), TABLE_FEATURES)
    assert len(week.actions) == MAX_ACTIONS
    new, valuable, whole = week.actions
    assert (new.count, new.file) == (12, "changes/new_churn_risk.csv")
    assert new.text == "Call the 12 customers newly flagged Churn Risk (9 of them Premium)"
    assert (valuable.count, valuable.file) == (174, "churn_risk.csv")
    assert "174 of 438 Premium customers (40%) are Churn Risk" in valuable.text
    assert valuable.reason.startswith("valuable customers who have not bought for two months")
    assert (whole.count, whole.file) == (401, "churn_risk.csv")
    assert whole.text.startswith("Send a win-back offer within 7 days — all 401")
    assert whole.reason == "", "the flag's reason was given just above, with Premium's"


def test_the_whole_list_s_action_names_those_held_back_as_page_1_s_other_figures_count_all():
    """Page 1 says "401 flagged"; the action to contact 362 says where the other 39 are, and
    what they are for unless the action above said it."""
    flag = replace(_flag(), held_back=39, held_by_persona=(("Premium", 13),))
    valuable, whole = this_week(PERSONAS, (flag,), None, {}, Units(), TABLE_FEATURES).actions
    assert "the other 13 held back as a control group" in valuable.text
    assert (whole.count, whole.text) == (362, "Send a win-back offer within 7 days — 362 Churn Risk "
                                              "customers to contact (39 more held back)")
    none_premium = replace(flag, held_by_persona=(("Deal Seekers", 39),))
    *_, whole = this_week(PERSONAS, (none_premium,), None, {}, Units(), TABLE_FEATURES).actions
    assert whole.text.endswith("to contact (39 more held back as a control group)")
    alone = replace(flag, by_persona=(("Deal Seekers", 20),), held_by_persona=())
    (only,) = this_week(PERSONAS, (alone,), None, {}, Units(), TABLE_FEATURES).actions
    assert only.reason.startswith("valuable customers who have not bought"), "said once, here"


def test_first_customers_to_call_say_why_in_the_lists_order():
    week = this_week(PERSONAS, (_flag(),), None, {}, Units(), TABLE_FEATURES)
    assert [c.customer_id for c in week.call_first] == list(range(1, CALL_FIRST + 1))
    assert week.call_first[0].why == "Premium; total spend $2,999; 62 days since last purchase"
    assert week.call_first[2].other_ids == "6024"
    assert week.call_order == "in the order of churn_risk.csv"
    newly = this_week(PERSONAS, (_flag(1, (2,)),), None, {}, Units(), TABLE_FEATURES)
    assert newly.call_order.startswith("newly flagged first")
    assert newly.call_first[1].why.startswith("new this week; Premium")


def test_a_column_alike_for_every_persona_is_left_out_and_said():
    assert flat_columns(PERSONAS, TABLE_FEATURES) == ("recency",)
    week = this_week(PERSONAS, (), None, {}, Units(), TABLE_FEATURES)
    assert week.flat_note == ("Days since last purchase is about the same for every persona "
                              "(47 days to 49 days), so the table leaves it out.")
    apart = (PERSONAS[0], _persona("Lapsed", 10, 0.1, 90, 500))
    assert flat_columns(apart, TABLE_FEATURES) == ()


def test_a_persona_named_for_people_is_not_given_customers_twice():
    """Page 1 said "274 of 838 Top Customers customers"."""
    from reporter.brief.this_week import people

    assert [people(name) for name in ("Premium", "Top Customers", "Deal Seekers", "Churn Risk")] == [
        "Premium customers", "Top Customers", "Deal Seekers", "Churn Risk customers"]
