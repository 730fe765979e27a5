"""The brake's threshold and its sliding window, as tables: no database, no HTTP."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scim_provisioning.brake.threshold import PERCENT_FLOOR, Threshold, window_add, window_count, window_start

DEFAULTS = Threshold()


@pytest.mark.parametrize(
    ("threshold", "population", "allowed"),
    [
        # 10 % of a large organisation is more than 25: the absolute limit decides.
        (DEFAULTS, 10_000, 25),
        (DEFAULTS, 250, 25),
        # 10 % of 200 is 20: the percentage decides.
        (DEFAULTS, 200, 20),
        (DEFAULTS, 100, 10),
        (DEFAULTS, 59, PERCENT_FLOOR),
        # A small organisation: the percentage never holds fewer than the floor.
        (DEFAULTS, 12, PERCENT_FLOOR),
        (DEFAULTS, 0, PERCENT_FLOOR),
        # An absolute limit below the floor still applies.
        (Threshold(max_people=3, max_percent=10), 1_000, 3),
        (Threshold(max_people=3, max_percent=10), 10, 3),
        (Threshold(max_people=1000, max_percent=1), 50_000, 500),
        (Threshold(max_people=1000, max_percent=100), 40, 40),
    ],
)
def test_allowed(threshold, population, allowed):
    assert threshold.allowed(population) == allowed


@pytest.mark.parametrize(
    ("threshold", "admitted", "population", "held"),
    [
        (DEFAULTS, 24, 10_000, False),
        (DEFAULTS, 25, 10_000, True),
        (DEFAULTS, 19, 200, False),
        (DEFAULTS, 20, 200, True),
        (DEFAULTS, 4, 10, False),
        (DEFAULTS, 5, 10, True),
        (Threshold(max_people=5, max_percent=50), 4, 8, False),
        (Threshold(max_people=5, max_percent=50), 5, 100, True),
    ],
)
def test_holds_once_more_than_allowed_would_be_deactivated(threshold, admitted, population, held):
    assert threshold.holds(admitted=admitted, population=population) is held


@pytest.mark.parametrize(
    "threshold",
    [DEFAULTS, Threshold(max_people=3, max_percent=10), Threshold(max_people=40, max_percent=7), Threshold(1000, 1)],
)
def test_counting_the_population_up_to_the_cap_decides_exactly_as_the_full_count(threshold):
    # The brake counts active people only up to population_cap(): the same decision as counting
    # them all, for every window and population.
    cap = threshold.population_cap()
    for admitted in range(0, threshold.max_people + 3):
        for population in range(0, 2 * cap + 20, max(1, cap // 200)):
            assert threshold.holds(admitted=admitted, population=min(population, cap)) == threshold.holds(
                admitted=admitted, population=population
            ), (admitted, population)


def test_the_count_is_bounded_by_the_limits_not_by_the_organisation():
    assert DEFAULTS.population_cap() == 250
    assert Threshold(max_people=3, max_percent=7).population_cap() == 43


NOW = datetime(2026, 12, 2, 14, 30, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("counts", "count", "start"),
    [
        ({}, 0, "2026-12-02T14:30"),
        ({"2026-12-02T14:30": 3}, 3, "2026-12-02T14:30"),
        # Fifty-nine minutes ago is in the window; sixty minutes ago is not.
        ({"2026-12-02T13:31": 2, "2026-12-02T14:00": 1}, 3, "2026-12-02T13:31"),
        ({"2026-12-02T13:30": 5, "2026-12-02T14:29": 1}, 1, "2026-12-02T14:29"),
        ({"2026-12-01T14:30": 9}, 0, "2026-12-02T14:30"),
    ],
)
def test_the_window_is_the_last_sixty_minutes(counts, count, start):
    assert window_count(counts, now=NOW) == count
    assert window_start(counts, now=NOW) == datetime.strptime(start, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def test_adding_counts_this_minute_and_drops_minutes_out_of_the_window():
    counts = {"2026-12-02T13:30": 5, "2026-12-02T13:31": 2, "2026-12-02T14:30": 1}

    assert window_add(counts, now=NOW) == {"2026-12-02T13:31": 2, "2026-12-02T14:30": 2}
    assert window_add({}, now=NOW) == {"2026-12-02T14:30": 1}
    # A time in another zone is the same minute.
    assert window_add({}, now=NOW.astimezone(timezone(timedelta(hours=-5)))) == {"2026-12-02T14:30": 1}


def test_a_wave_keeps_at_most_sixty_one_minutes():
    counts: dict = {}
    for minute in range(0, 600, 7):
        counts = window_add(counts, now=NOW + timedelta(minutes=minute))
    assert len(counts) <= 61
    assert window_count(counts, now=NOW + timedelta(minutes=595)) == len(range(539, 600, 7))
