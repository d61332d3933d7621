"""Bar charts drawn on the server as SVG: the activity page's, readable without JavaScript.

Plain geometry from numbers already read (the page's read models); no data access. One
small chart per kind of event, each on its own scale (a day of labels and a day of
delivery stops differ by orders of magnitude). The numbers are also in a table beside
each chart, for screen readers and for reading exact values.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from .formatting import count
from .queries import KINDS, Activity

# The drawing's own units (the SVG scales to its box): about one unit per CSS pixel on
# a phone, so the labels stay legible there.
WIDTH = 320
HEIGHT = 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 4, 4, 20, 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    title: str  # the bar's own tooltip: "Dec 2: 1,234"


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    summary: str  # what the chart shows, in words (its accessible description)
    bars: list[Bar]
    ticks: list[Tick]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - _BOTTOM
    left: float = _LEFT
    right: float = WIDTH - _RIGHT
    top: float = _TOP


def bar_chart(
    chart_id: str,
    title: str,
    slots: list[tuple[str, str, int | None]],
    every: int,
    unit: str,
    span: str,
) -> BarChart:
    """A chart of `slots` — (tick label, tooltip name, value or None for a slot still to
    come) — with a tick label under every `every`-th slot."""
    n = max(len(slots), 1)
    pitch = (WIDTH - _LEFT - _RIGHT) / n
    plot = HEIGHT - _TOP - _BOTTOM
    values = [v for _, _, v in slots if v is not None]
    peak = max(values, default=0)
    bars, ticks = [], []
    for i, (tick, name, value) in enumerate(slots):
        x = _LEFT + i * pitch
        if value:
            height = max(plot * value / peak, 1.0)
            bars.append(
                Bar(
                    x=round(x + pitch * 0.15, 2),
                    y=round(_TOP + plot - height, 2),
                    width=round(pitch * 0.7, 2),
                    height=round(height, 2),
                    value=value,
                    title=f"{name}: {count(value)}",
                )
            )
        if i % every == 0:
            ticks.append(Tick(round(x + pitch / 2, 2), tick))
    total = sum(values)
    if total:
        busiest = max((s for s in slots if s[2] is not None), key=lambda s: s[2] or 0)
        summary = f"{count(total)} {unit} {span}; the most on {busiest[1]}, {count(peak)}."
    else:
        summary = f"No {unit} {span}."
    return BarChart(chart_id, title, summary, bars, ticks, peak)


def day_slots(
    days: list[tuple[date, int]], month_days: list[date]
) -> list[tuple[str, str, int | None]]:
    """This month's days, those still to come without a value."""
    by_day = dict(days)
    return [(str(d.day), f"{d:%b} {d.day}", by_day.get(d)) for d in month_days]


def month_slots(months: list[tuple[date, int]]) -> list[tuple[str, str, int | None]]:
    return [(f"{m:%b}", f"{m:%B %Y}", v) for m, v in months]


# What a kind's quantity counts, in the charts' words.
UNITS = {
    "pick": ("Picks", "picks"),
    "label": ("Shipping labels", "labels"),
    "stop": ("Delivery stops", "delivery stops"),
    "storage_day": ("Storage days", "storage days"),
}


@dataclass(frozen=True)
class ActivityCharts:
    daily: list[BarChart]
    monthly: list[BarChart]
    month_days: list[date]


def activity_charts(activity: Activity) -> ActivityCharts:
    """A chart per kind of this month by day and of the last twelve months by month."""
    first = activity.today.replace(day=1)
    month_days = []
    day = first
    while day.month == first.month:
        month_days.append(day)
        day += timedelta(days=1)
    daily, monthly = [], []
    for kind in KINDS:
        name, unit = UNITS[kind]
        daily.append(
            bar_chart(
                f"daily-{kind}",
                f"{name} per day",
                day_slots([(c.start, c.quantity(kind)) for c in activity.days], month_days),
                every=7,
                unit=unit,
                span=f"in {first:%B} so far",
            )
        )
        monthly.append(
            bar_chart(
                f"monthly-{kind}",
                f"{name} per month",
                month_slots([(c.start, c.quantity(kind)) for c in activity.months]),
                every=1 if len(activity.months) <= 12 else 2,
                unit=unit,
                span="in the last twelve months",
            )
        )
    return ActivityCharts(daily, monthly, month_days)
