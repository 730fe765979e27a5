"""When the mass-deactivation brake holds: the threshold of one sliding window, with no I/O.

A brake holds Entra ID's deactivations once more than ``max_people`` people, or more than
``max_percent`` % of the organisation's active provisioned people, would be deactivated within
``WINDOW``. The population is taken as it was when the window opened (the people active now
plus those the window already deactivated), so the limit does not shrink as it is approached.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Deactivations are counted per minute: a window is the sum of its last sixty minutes.
WINDOW = timedelta(minutes=60)
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
