"""Send-time optimization: business hours in the lead's zone, weekends and public
holidays skipped, the lead's likely reading hour, DST, and the switch that turns
it all off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scheduler.timing import (
    HOURS_PER_WEEK,
    MIN_REPLIES,
    PRIOR,
    PlannedSend,
    ReplyHistory,
    choose_histogram,
    hour_of_week,
    local_day,
    next_window,
    plan_send,
    start_of_next_day,
)
from shared.freemail import FREE_MAIL_DOMAINS, company_domain

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
THURSDAY_15H = 3 * 24 + 15


def histogram(counts: dict[int, int]) -> tuple[int, ...]:
    """A 168-bucket histogram with ``counts`` at the given hours of week."""
    return tuple(counts.get(hour, 0) for hour in range(HOURS_PER_WEEK))


def plan(
    earliest: datetime,
    *,
    time_zone: str | None = "Europe/Paris",
    country: str | None = "FR",
    history: ReplyHistory | None = None,
    optimize: bool = True,
    spread_key: int = 0,
) -> PlannedSend:
    return plan_send(
        earliest,
        time_zone=time_zone,
        country=country,
        history=history or ReplyHistory(),
        optimize=optimize,
        spread_key=spread_key,
    )


# hour_of_week and the histogram choice


def test_hour_of_week_counts_from_monday_midnight_local() -> None:
    assert hour_of_week(datetime(2026, 11, 2, 0, 30, tzinfo=PARIS)) == 0  # Monday
    assert hour_of_week(datetime(2026, 11, 5, 15, 0, tzinfo=PARIS)) == THURSDAY_15H
    assert hour_of_week(datetime(2026, 11, 8, 23, 59, tzinfo=PARIS)) == 167  # Sunday


def test_prior_favours_mid_morning_tuesday_to_thursday_and_never_nights_or_weekends() -> None:
    assert len(PRIOR) == HOURS_PER_WEEK
    best = max(PRIOR)
    assert {h for h, w in enumerate(PRIOR) if w == best} == {
        day * 24 + hour for day in (1, 2, 3) for hour in (9, 10)
    }
    for hour, weight in enumerate(PRIOR):
        day, hour_of_day = divmod(hour, 24)
        if day >= 5 or not 9 <= hour_of_day < 17:
            assert weight == 0
        else:
            assert weight > 0


def test_choose_histogram_uses_the_narrowest_history_with_enough_replies() -> None:
    three = histogram({THURSDAY_15H: MIN_REPLIES})
    two = histogram({THURSDAY_15H: MIN_REPLIES - 1})
    assert choose_histogram(ReplyHistory(lead=three, domain=three, org=three)) == ("lead", three)
    assert choose_histogram(ReplyHistory(lead=two, domain=three, org=three)) == ("domain", three)
    assert choose_histogram(ReplyHistory(lead=two, domain=two, org=three)) == ("org", three)
    assert choose_histogram(ReplyHistory(lead=two, domain=None, org=two)) == ("prior", PRIOR)
    assert choose_histogram(ReplyHistory()) == ("prior", PRIOR)


def test_a_histogram_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="168"):
        ReplyHistory(lead=(1, 2, 3))
    with pytest.raises(ValueError, match="negative"):
        ReplyHistory(org=histogram({5: -1}))


# plan_send: business days and hours


def test_a_wait_ending_on_saturday_moves_to_monday_business_hours_in_paris() -> None:
    saturday = datetime(2026, 10, 31, 10, 0, tzinfo=PARIS)
    planned = plan(saturday)
    local = planned.at.astimezone(PARIS)
    assert planned.at.tzinfo is UTC
    assert local.date() == date(2026, 11, 2)  # Monday
    assert 9 <= local.hour < 17
    assert planned.reason.startswith("Wait ends Sat 31 Oct 10:00 (Europe/Paris)")
    assert "moved to Mon 2 Nov, the next business day" in planned.reason
    assert "the weekend" in planned.reason


def test_a_french_public_holiday_is_skipped_for_a_french_lead_only() -> None:
    # Wednesday 11 November 2026 is Armistice Day in France, not in Germany.
    # (The United States keeps it too, as Veterans Day.)
    after_tuesday_hours = datetime(2026, 11, 10, 18, 0, tzinfo=PARIS)
    french = plan(after_tuesday_hours, country="FR").at.astimezone(PARIS)
    german = plan(after_tuesday_hours, country="DE").at.astimezone(PARIS)
    assert french.date() == date(2026, 11, 12)
    assert german.date() == date(2026, 11, 11)
    assert "Armistice Day on Wed 11 Nov" in plan(after_tuesday_hours, country="FR").reason


def test_a_wait_ending_before_business_hours_sends_the_same_day() -> None:
    early_tuesday = datetime(2026, 11, 10, 6, 0, tzinfo=PARIS)
    local = plan(early_tuesday).at.astimezone(PARIS)
    assert local.date() == date(2026, 11, 10)
    assert local.hour == 9


def test_a_wait_ending_inside_business_hours_is_never_sent_before_it_ends() -> None:
    tuesday_1520 = datetime(2026, 11, 10, 15, 20, tzinfo=PARIS)
    planned = plan(tuesday_1520, spread_key=5)
    # 15:05 has passed, so 16:05 is the only slot left that day.
    assert planned.at.astimezone(PARIS) == datetime(2026, 11, 10, 16, 5, tzinfo=PARIS)


def test_an_unknown_country_still_skips_weekends() -> None:
    saturday = datetime(2026, 10, 31, 10, 0, tzinfo=PARIS)
    for country in ("ZZ", "", None, "fr-not-a-code"):
        assert plan(saturday, country=country).at.astimezone(PARIS).date() == date(2026, 11, 2)


def test_a_lowercase_country_code_is_understood() -> None:
    after_tuesday_hours = datetime(2026, 11, 10, 18, 0, tzinfo=PARIS)
    assert plan(after_tuesday_hours, country="fr").at.astimezone(PARIS).date() == date(2026, 11, 12)


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    saturday = datetime(2026, 10, 31, 10, 0, tzinfo=UTC)
    for zone in (None, "", "Mars/Olympus_Mons", "../etc/passwd"):
        planned = plan(saturday, time_zone=zone, country=None)
        assert planned.at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        assert "(UTC)" in planned.reason


def test_spread_key_sets_the_minute_so_leads_do_not_all_go_at_the_hour() -> None:
    saturday = datetime(2026, 10, 31, 10, 0, tzinfo=PARIS)
    assert plan(saturday, spread_key=47).at.astimezone(PARIS).minute == 17
    assert plan(saturday, spread_key=-1).at.astimezone(PARIS).minute == 29
    assert plan(saturday, spread_key=0).at.astimezone(PARIS).minute == 0


def test_a_naive_earliest_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(datetime(2026, 11, 10, 10, 0))


# plan_send: the reading hour


def test_a_lead_with_three_thursday_afternoon_replies_gets_thursday_15h() -> None:
    history = ReplyHistory(lead=histogram({THURSDAY_15H: 3}))
    wednesday_evening = datetime(2026, 11, 4, 18, 0, tzinfo=PARIS)
    planned = plan(wednesday_evening, history=history)
    assert planned.at.astimezone(PARIS) == datetime(2026, 11, 5, 15, 0, tzinfo=PARIS)
    assert planned.source == "lead"
    assert "15:00 is the lead's most likely reading hour on a Thursday (3 replies)" in (
        planned.reason
    )


def test_with_two_lead_replies_the_company_domain_decides() -> None:
    thursday_11h = 3 * 24 + 11
    history = ReplyHistory(
        lead=histogram({THURSDAY_15H: 2}),
        domain=histogram({thursday_11h: 4, THURSDAY_15H: 1}),
        org=histogram({THURSDAY_15H: 50}),
    )
    thursday_morning = datetime(2026, 11, 5, 7, 0, tzinfo=PARIS)
    planned = plan(thursday_morning, history=history)
    assert planned.at.astimezone(PARIS).hour == 11
    assert planned.source == "domain"


def test_the_org_decides_when_neither_lead_nor_domain_has_enough() -> None:
    history = ReplyHistory(lead=None, domain=histogram({1: 1}), org=histogram({THURSDAY_15H: 7}))
    thursday_morning = datetime(2026, 11, 5, 7, 0, tzinfo=PARIS)
    planned = plan(thursday_morning, history=history)
    assert planned.at.astimezone(PARIS).hour == 15
    assert planned.source == "org"


def test_without_history_the_prior_picks_mid_morning() -> None:
    tuesday_0945 = datetime(2026, 11, 10, 9, 45, tzinfo=PARIS)
    planned = plan(tuesday_0945)
    assert planned.at.astimezone(PARIS) == datetime(2026, 11, 10, 10, 0, tzinfo=PARIS)
    assert planned.source == "prior"
    assert "mid-morning" in planned.reason


def test_equally_likely_hours_go_to_the_earliest() -> None:
    thursday_11h = 3 * 24 + 11
    history = ReplyHistory(lead=histogram({thursday_11h: 2, THURSDAY_15H: 2}))
    thursday_morning = datetime(2026, 11, 5, 7, 0, tzinfo=PARIS)
    assert plan(thursday_morning, history=history).at.astimezone(PARIS).hour == 11


def test_a_day_without_replies_on_record_sends_at_its_first_business_hour() -> None:
    # The search does not wait for Thursday: it stays on the first business day.
    history = ReplyHistory(lead=histogram({THURSDAY_15H: 5}))
    monday = datetime(2026, 11, 2, 7, 0, tzinfo=PARIS)
    planned = plan(monday, history=history)
    assert planned.at.astimezone(PARIS) == datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    assert planned.source == "lead"
    assert "first business hour" in planned.reason


def test_with_optimization_off_the_send_goes_when_the_wait_ends() -> None:
    saturday_night = datetime(2026, 10, 31, 23, 7, 13, tzinfo=PARIS)
    planned = plan(saturday_night, optimize=False, history=ReplyHistory(lead=histogram({1: 9})))
    assert planned.at == saturday_night
    assert planned.at.tzinfo is UTC
    assert planned.source == "immediate"
    assert "send-time optimization is off" in planned.reason


# DST


def test_spring_forward_keeps_the_new_york_wall_clock_hour() -> None:
    # Clocks go forward on Sunday 8 March 2026: Monday 09:00 is EDT (UTC-4).
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=NEW_YORK)
    planned = plan(friday_evening, time_zone="America/New_York", country="US")
    assert planned.at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)

    monday_15h = 24 * 0 + 15
    history = ReplyHistory(lead=histogram({monday_15h: 3}))
    planned = plan(friday_evening, time_zone="America/New_York", country="US", history=history)
    assert planned.at == datetime(2026, 3, 9, 19, 0, tzinfo=UTC)
    assert planned.at.astimezone(NEW_YORK).hour == 15


def test_fall_back_keeps_the_new_york_wall_clock_hour() -> None:
    # Clocks go back on Sunday 1 November 2026: Monday 09:00 is EST (UTC-5).
    saturday = datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)
    planned = plan(saturday, time_zone="America/New_York", country="US")
    assert planned.at == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def test_the_reading_hour_is_learned_in_local_time_across_a_dst_change() -> None:
    # Same Thursday 15h local before and after Paris leaves summer time (25 Oct 2026).
    history = ReplyHistory(lead=histogram({THURSDAY_15H: 3}))
    summer = plan(datetime(2026, 10, 22, 8, 0, tzinfo=PARIS), history=history).at
    winter = plan(datetime(2026, 10, 29, 8, 0, tzinfo=PARIS), history=history).at
    assert summer == datetime(2026, 10, 22, 13, 0, tzinfo=UTC)
    assert winter == datetime(2026, 10, 29, 14, 0, tzinfo=UTC)


# The property: whatever the input, a business slot no earlier than the wait.

ZONES = (
    "Europe/Paris",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Chatham",
    "UTC",
)
COUNTRIES = ("FR", "US", "DE", "GB", "JP", "AU", "BR", "IN", None, "ZZ")

sparse_histograms = st.one_of(
    st.none(),
    st.dictionaries(st.integers(0, HOURS_PER_WEEK - 1), st.integers(1, 6), max_size=6).map(
        histogram
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    earliest=st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2027, 12, 31, 23, 59),
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(ZONES),
    country=st.sampled_from(COUNTRIES),
    history=st.builds(ReplyHistory, sparse_histograms, sparse_histograms, sparse_histograms),
    spread_key=st.integers(0, 10_000),
)
def test_any_plan_is_a_business_slot_no_earlier_than_the_wait(
    earliest: datetime,
    zone: str,
    country: str | None,
    history: ReplyHistory,
    spread_key: int,
) -> None:
    planned = plan(
        earliest, time_zone=zone, country=country, history=history, spread_key=spread_key
    )
    local = planned.at.astimezone(ZoneInfo(zone))
    assert planned.at >= earliest
    assert planned.at.tzinfo is UTC
    assert local.weekday() < 5
    assert 9 <= local.hour < 17
    assert local.minute == spread_key % 30
    assert planned.source == choose_histogram(history)[0]
    if country in (None, "ZZ"):
        assert planned.at - earliest < timedelta(days=4)
    else:
        assert local.date() not in holidays.country_holidays(country, years=local.year)
    # Deterministic: the same inputs plan the same send.
    again = plan(earliest, time_zone=zone, country=country, history=history, spread_key=spread_key)
    assert again == planned


# next_window, start_of_next_day, local_day


def window(at: datetime, *, country: str | None = "FR", optimize: bool = True) -> datetime:
    return next_window(at, time_zone="Europe/Paris", country=country, optimize=optimize)


def test_next_window_keeps_a_time_inside_business_hours() -> None:
    tuesday_1130 = datetime(2026, 11, 10, 11, 30, tzinfo=PARIS)
    assert window(tuesday_1130) == tuesday_1130


def test_next_window_moves_evenings_weekends_and_holidays_to_the_next_9am() -> None:
    friday_evening = datetime(2026, 11, 6, 17, 0, tzinfo=PARIS)
    assert window(friday_evening) == datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)
    sunday = datetime(2026, 11, 8, 12, 0, tzinfo=PARIS)
    assert window(sunday) == datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)
    early_monday = datetime(2026, 11, 9, 7, 59, tzinfo=PARIS)
    assert window(early_monday) == datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)
    armistice = datetime(2026, 11, 11, 10, 0, tzinfo=PARIS)
    assert window(armistice) == datetime(2026, 11, 12, 9, 0, tzinfo=PARIS)
    assert window(armistice, country="DE") == armistice


def test_next_window_with_optimization_off_is_the_time_itself() -> None:
    sunday_night = datetime(2026, 11, 8, 23, 0, tzinfo=PARIS)
    assert window(sunday_night, optimize=False) == sunday_night


def test_start_of_next_day_is_local_midnight_across_dst() -> None:
    # Paris: the day after Saturday 28 March starts in winter time, the next in summer time.
    assert start_of_next_day(
        datetime(2026, 3, 28, 23, 30, tzinfo=PARIS), "Europe/Paris"
    ) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert start_of_next_day(
        datetime(2026, 3, 29, 12, 0, tzinfo=PARIS), "Europe/Paris"
    ) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert start_of_next_day(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), None) == datetime(
        2026, 3, 30, 0, 0, tzinfo=UTC
    )


def test_start_of_next_day_exists_where_dst_skips_midnight() -> None:
    # Havana jumps from 00:00 to 01:00 on 8 March 2026: that day starts at 01:00 CDT.
    havana = ZoneInfo("America/Havana")
    start = start_of_next_day(datetime(2026, 3, 7, 12, 0, tzinfo=havana), "America/Havana")
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert start.astimezone(havana).date() == date(2026, 3, 8)
    assert (start - timedelta(seconds=1)).astimezone(havana).date() == date(2026, 3, 7)


def test_local_day_is_the_date_in_the_time_zone() -> None:
    new_year_utc = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    assert local_day(new_year_utc, "Europe/Paris") == date(2026, 1, 2)
    assert local_day(new_year_utc, "America/New_York") == date(2026, 1, 1)
    assert local_day(new_year_utc, None) == date(2026, 1, 1)


# shared.freemail


def test_company_domain_names_companies_but_not_free_mail() -> None:
    assert company_domain("Maya.Lopez@Acme.Example.COM") == "acme.example.com"
    assert company_domain("maya@gmail.com") is None
    assert company_domain("maya@GoogleMail.com") is None
    assert company_domain("maya@yahoo.co.uk") is None
    assert company_domain("no-at-sign") is None
    assert company_domain("maya@") is None
    assert {"gmail.com", "outlook.com", "proton.me", "web.de", "qq.com"} <= FREE_MAIL_DOMAINS
