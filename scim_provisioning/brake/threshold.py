"""When the mass-deactivation brake holds: the threshold of one sliding window, with no I/O.

A brake holds Entra ID's deactivations once more than ``max_people`` people, or more than
``max_percent`` % of the organisation's active provisioned people, would be deactivated within
``WINDOW``. The population is taken as it was when the window opened (the people active now
plus those the window already deactivated), so the limit does not shrink as it is approached.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Deactivations are counted per minute: a window is the sum of its last sixty minutes.
WINDOW = timedelta(minutes=60)
# A minute's key in the counts: its start, in UTC.
MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
DEFAULT_MAX_PEOPLE = 25
DEFAULT_MAX_PERCENT = 10
# The percentage never holds fewer than this many in a window, so that a small organisation's
# ordinary leavers (one of twelve people is over 8 %) are not held; the absolute limit still can.
PERCENT_FLOOR = 5


@dataclass(frozen=True)
class Threshold:
    """An organisation's limits: at most ``max_people``, and at most ``max_percent`` % of its people."""

    max_people: int = DEFAULT_MAX_PEOPLE
    max_percent: int = DEFAULT_MAX_PERCENT

    def allowed(self, population: int) -> int:
        """How many deactivations one window lets through for ``population`` people."""
        by_percent = max(population * self.max_percent // 100, PERCENT_FLOOR)
        return min(self.max_people, by_percent)

    def population_cap(self) -> int:
        """How far the population needs counting: beyond it only ``max_people`` decides.

        The limit grows with the population up to ``max_people``, so counting more people than
        this tells nothing: deciding costs the same for an organisation of a thousand people as
        for one of a million.
        """
        return -(-self.max_people * 100 // self.max_percent)

    def holds(self, *, admitted: int, population: int) -> bool:
        """Whether one more deactivation, after ``admitted`` in the window, is held."""
        return admitted + 1 > self.allowed(population)


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _in_window(counts: Mapping[str, int], now: datetime) -> dict[str, int]:
    oldest = (_minute(now) - WINDOW).strftime(MINUTE_FORMAT)
    # The keys sort as the minutes do, so the window is a comparison of strings.
    return {minute: count for minute, count in counts.items() if minute > oldest}


def window_count(counts: Mapping[str, int], *, now: datetime) -> int:
    """How many deactivations the per-minute ``counts`` hold in the window ending ``now``."""
    return sum(_in_window(counts, now).values())


def window_start(counts: Mapping[str, int], *, now: datetime) -> datetime:
    """The first minute of the window ending ``now`` that counted a deactivation (``now``'s minute if none)."""
    minutes = sorted(_in_window(counts, now))
    if not minutes:
        return _minute(now)
    return datetime.strptime(minutes[0], MINUTE_FORMAT).replace(tzinfo=UTC)


def window_add(counts: Mapping[str, int], *, now: datetime) -> dict[str, int]:
    """The counts with one more deactivation at ``now``, minutes no window reaches any more dropped.

    At most sixty-one keys are ever kept, so the counts stay a small value on one row.
    """
    kept = _in_window(counts, now)
    minute = _minute(now).strftime(MINUTE_FORMAT)
    kept[minute] = kept.get(minute, 0) + 1
    return kept
