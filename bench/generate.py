"""A large, realistic event data set for the ingestion and rating benchmark.

The shape of a 3PL's month: a few dozen clients, one of them far bigger than the rest
(the big client takes `big_share` of all events, the others share the remainder on a
Zipf curve), picks outnumbering labels, labels outnumbering storage days and delivery
stops, weekdays busier than weekends, and each kind with the references and details a
WMS or TMS would send: order numbers and SKUs, carrier tracking numbers, stop addresses
and routes, pallet ids and rack locations.

Clients and rate cards are made through the product's own services
(`tally.clients.services.create_client`, `tally.rating.services.create_rate_card`).
Rows are the dictionaries the API and CSV import hand to
`tally.operations.services.ingest_events`: strings for timestamps, a details object.

Usable as a library (bench/run.py does) or on its own, to write a CSV:

    .venv/bin/python bench/generate.py --clients 20 --months 1 --events-per-month 100000 \
        --csv bench/data/events.csv
"""

from __future__ import annotations

import argparse
import calendar
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tally.audit.actors import SystemActor

SOURCE = "wms"

# Share of a client's events by kind, and what each costs.
KIND_MIX = (("pick", 0.60), ("label", 0.25), ("storage_day", 0.10), ("stop", 0.05))
PRICES = {"pick": "0.3500", "label": "0.0450", "stop": "12.5000", "storage_day": "0.8125"}
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP", "CAD", "JPY", "USD")
# (time zone, the offset its feed writes on timestamps)
ZONES = (
    ("UTC", "Z"),
    ("America/New_York", "-05:00"),
    ("Europe/Berlin", "+01:00"),
    ("America/Chicago", "-06:00"),
    ("UTC", "+00:00"),
)
CARRIERS = (
    ("UPS", "Ground"),
    ("UPS", "2nd Day Air"),
    ("FedEx", "Home Delivery"),
    ("USPS", "Ground Advantage"),
    ("DHL", "Express"),
)
STREETS = (
    "Harbor Way",
    "Elm St",
    "Maple Ave",
    "Industrial Pkwy",
    "Commerce Dr",
    "Oak Ln",
    "Market St",
    "Depot Rd",
)
CITIES = ("Springfield", "Riverton", "Fairview", "Lakeside", "Port City", "Greenville")
WEEKDAY_WEIGHT = (1.15, 1.1, 1.1, 1.1, 1.2, 0.5, 0.3)  # Monday … Sunday


@dataclass(frozen=True)
class Dataset:
    clients: int = 20
    months: int = 1
    events_per_month: int = 100_000  # all clients together
    big_share: float = 0.45  # the biggest client's share of the events
    first_month: date = date(2026, 1, 1)
    seed: int = 2026

    def month_starts(self) -> list[date]:
        out, day = [], self.first_month.replace(day=1)
        for _ in range(self.months):
            out.append(day)
            day = (day + timedelta(days=32)).replace(day=1)
        return out


@dataclass(frozen=True)
class ClientPlan:
    index: int
    code: str
    currency: str
    time_zone: str
    offset: str  # how its feed writes timestamps ("Z", "+00:00", "-05:00" …)
    share: float


def client_shares(n: int, big_share: float) -> list[float]:
    """The biggest client takes `big_share`; the rest follow Zipf (1/k) over the remainder."""
    if n == 1:
        return [1.0]
    tail = [1.0 / k for k in range(1, n)]
    scale = (1.0 - big_share) / sum(tail)
    return [big_share, *(w * scale for w in tail)]


def client_plans(ds: Dataset) -> list[ClientPlan]:
    plans = []
    for i, share in enumerate(client_shares(ds.clients, ds.big_share)):
        zone, offset = ZONES[i % len(ZONES)]
        plans.append(
            ClientPlan(
                index=i,
                code=f"bench-{i:03d}",
                currency=CURRENCIES[i % len(CURRENCIES)],
                time_zone=zone,
                offset=offset,
                share=share,
            )
        )
    return plans


def create_clients(ds: Dataset) -> list[Any]:
    """Clients and rate cards through the product's services. Needs Django set up.

    Every client has a rate card from before the data set; the biggest client's prices
    change mid-way through the first month (two segments, two lines per kind), and one
    in seven clients has no storage price, so rating has events to report as unrated.
    """
    from tally.clients.services import create_client
    from tally.rating.services import create_rate_card

    made = []
    for plan in client_plans(ds):
        client = create_client(
            actor=SystemActor.BENCHMARK,
            name=f"Bench Client {plan.index:03d}",
            code=plan.code,
            currency=plan.currency,
            time_zone=plan.time_zone,
            tax_rate_bp=825 if plan.index % 3 == 0 else None,
            address=f"{100 + plan.index} {STREETS[plan.index % len(STREETS)]}",
            billing_contacts=[("Accounts Payable", f"ap@{plan.code}.example")],
        )
        prices = dict(PRICES)
        if plan.index % 7 == 6:
            del prices["storage_day"]
        create_rate_card(
            actor=SystemActor.BENCHMARK,
            client=client,
            effective_from=ds.first_month - timedelta(days=365),
            prices=prices,
            name="Standard",
        )
        if plan.index == 0:
            create_rate_card(
                actor=SystemActor.BENCHMARK,
                client=client,
                effective_from=ds.first_month + timedelta(days=14),
                prices={**prices, "pick": "0.3350", "label": "0.0425"},
                name="Volume discount",
            )
        made.append(client)
    return made


def _split(total: int, weights: list[float]) -> list[int]:
    """`total` split by weight into whole numbers that add up to exactly `total`."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    short = total - sum(out)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[:short]:
        out[i] += 1
    return out


class _ClientFeed:
    """One client's events of one day, in time order, as ingest rows."""

    def __init__(self, plan: ClientPlan, month: date, seed: int, with_client: bool) -> None:
        self.plan = plan
        self.rng = random.Random(f"{seed}:{plan.code}:{month.isoformat()}")
        self.month_tag = month.strftime("%y%m")
        self.with_client = with_client
        self.order_no = 100_000 + plan.index * 7_000_000 + month.month * 500_000
        self.pallets = [
            (
                f"PLT-{plan.index:03d}{p:06d}",
                f"{'ABCDEFGH'[p % 8]}-{p % 40 + 1:02d}-{p % 6 + 1:02d}-{'LR'[p % 2]}",
                f"SKU-{plan.index:03d}-{p * 7 % 9973:04d}",
            )
            for p in range(2_000)
        ]
        self.seq = 0

    def day(self, day: date, n: int) -> list[dict[str, Any]]:
        rng = self.rng
        rand, randint, choice = rng.random, rng.randint, rng.choice
        plan = self.plan
        prefix = day.isoformat() + "T"
        offset = plan.offset
        tag = self.month_tag
        rows: list[dict[str, Any]] = []
        # Working hours 06:00–22:00, seconds spread evenly with jitter, in order.
        step = 57_600 / max(n, 1)
        cuts = (0.60, 0.85, 0.95)
        for i in range(n):
            sec = 21_600 + int(i * step + rand() * step)
            ts = f"{prefix}{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}{offset}"
            r = rand()
            self.seq += 1
            seq = self.seq
            if r < cuts[0]:
                if rand() < 0.4:
                    self.order_no += 1
                order = f"SO-{self.order_no}"
                qty = 1 if rand() < 0.7 else randint(2, 12)
                row = {
                    "kind": "pick",
                    "occurred_at": ts,
                    "quantity": qty,
                    "reference": order,
                    "external_id": f"pk-{tag}-{seq}",
                    "details": {
                        "sku": f"SKU-{plan.index:03d}-{randint(1, 9973):04d}",
                        "bin": f"{choice('ABCDEFGH')}-{randint(1, 40):02d}-{randint(1, 6):02d}",
                        "picker": f"P{randint(1, 60):03d}",
                    },
                }
            elif r < cuts[1]:
                carrier, service = choice(CARRIERS)
                tracking = f"1Z{randint(0, 16**16 - 1):016X}"
                row = {
                    "kind": "label",
                    "occurred_at": ts,
                    "quantity": 1,
                    "reference": tracking,
                    "external_id": f"lb-{tag}-{seq}",
                    "details": {
                        "carrier": carrier,
                        "service": service,
                        "order": f"SO-{self.order_no - randint(0, 30)}",
                        "weight_g": randint(80, 22_000),
                    },
                }
            elif r < cuts[2]:
                pallet, location, sku = choice(self.pallets)
                row = {
                    "kind": "storage_day",
                    "occurred_at": f"{prefix}23:59:00{offset}",
                    "quantity": 1,
                    "reference": f"{pallet} @ {location}",
                    "external_id": f"sd-{tag}-{seq}",
                    "details": {"pallet": pallet, "location": location, "sku": sku},
                }
            else:
                row = {
                    "kind": "stop",
                    "occurred_at": ts,
                    "quantity": 1,
                    "reference": f"{randint(1, 9999)} {choice(STREETS)}, {choice(CITIES)}",
                    "external_id": f"st-{tag}-{seq}",
                    "details": {
                        "route": f"R-{randint(1, 40):02d}",
                        "driver": f"D-{randint(1, 90):03d}",
                        "window": f"{randint(7, 16):02d}:00-{randint(17, 20):02d}:00",
                        "signed": rand() < 0.93,
                    },
                }
            if self.with_client:
                row["client"] = plan.code
            rows.append(row)
        return rows


def month_rows(
    plans: list[ClientPlan],
    month: date,
    events: int,
    *,
    seed: int = 2026,
    with_client: bool = True,
) -> Iterator[dict[str, Any]]:
    """All clients' events of a month, day by day, `events` in total (split by share)."""
    days = [
        month + timedelta(days=d) for d in range(calendar.monthrange(month.year, month.month)[1])
    ]
    day_weights = [WEEKDAY_WEIGHT[d.weekday()] for d in days]
    per_client = _split(events, [p.share for p in plans])
    feeds = [_ClientFeed(p, month, seed, with_client) for p in plans]
    per_day = [_split(n, day_weights) for n in per_client]
    for d, day in enumerate(days):
        for c, feed in enumerate(feeds):
            yield from feed.day(day, per_day[c][d])


def batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def main() -> None:
    import csv
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--events-per-month", type=int, default=100_000)
    parser.add_argument("--big-share", type=float, default=0.45)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--csv", required=True, help="where to write the rows")
    args = parser.parse_args()
    ds = Dataset(args.clients, args.months, args.events_per_month, args.big_share, seed=args.seed)
    plans = client_plans(ds)
    columns = ["client", "kind", "occurred_at", "quantity", "reference", "external_id", "details"]
    with open(args.csv, "w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, columns)
        out.writeheader()
        for month in ds.month_starts():
            for row in month_rows(plans, month, ds.events_per_month, seed=ds.seed):
                out.writerow({**row, "details": json.dumps(row["details"])})


if __name__ == "__main__":
    main()
