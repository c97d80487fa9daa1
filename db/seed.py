"""Deterministic demo data (SPEC §5 "Demo data").

:func:`generate_document` builds an import document relative to a given
"today" from ``random.Random(seed)`` alone: no clock, no set or hash order, so
the same arguments always give the same document. The mixes are chosen so
that every customer status of SPEC §2.1 and every analytics section of §2.2
has members even for a few hundred customers.

:func:`seed` streams the same customers in chunks through
:func:`db.io.load_document`, so 100,000 customers never sit in memory at once
and a progress bar can advance between chunks.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import sys
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.io import LoadResult, load_document
from db.models import fold
from db.rules import trial_id

__all__ = ["generate_document", "seed"]

DAY = dt.timedelta(days=1)
HISTORY_WEEKS = 26

_FIRST_NAMES = [
    "ana", "marko", "jelena", "ivan", "milica", "stefan", "tijana", "nikola", "sara", "luka",
    "maja", "petar", "jovana", "filip", "teodora", "lazar", "katarina", "vuk", "mina", "david",
    "elena", "lucas", "emma", "noah", "sofia", "leon", "mia", "jonas", "lea", "oskar",
]  # fmt: skip
_SURNAMES = [
    "Kovač", "Petrović", "Jovanović", "Nikolić", "Marković", "Đorđević", "Stojanović", "Ilić",
    "Pavlović", "Müller", "Schmidt", "Novak", "Horvat", "Lindqvist", "Øberg", "García", "Rossi",
    "Dubois", "Nowak", "Szabó",
]  # fmt: skip
_BRANDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Nordic", "Blue River", "Summit",
    "Atlas", "Vertex", "Helios", "Orion", "Polaris", "Cobalt", "Crimson", "Evergreen",
    "Silverline", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Lumen", "Quantum", "Redwood",
    "Sapphire", "Granite", "Harbor", "Meridian", "Pinnacle", "Zenith", "Aurora", "Beacon",
    "Cascade", "Delta", "Everest", "Falcon", "Horizon", "Ironwood", "Juniper", "Keystone",
    "Lighthouse", "Maple", "Nimbus", "Oakridge", "Pioneer", "Riverside", "Sterling", "Trident",
    "Vanguard", "Willow",
]  # fmt: skip
# Place names with diacritics keep search and name ordering honest
# ("čač" must find "Čačak"; "Łódź" must sort as a letter, not a byte).
_PLACES = [
    "Čačak", "Niš", "Kraljevo", "Šabac", "Zürich", "Kraków", "Łódź", "São Paulo", "Malmö",
    "Århus", "Göteborg", "Köln", "Düsseldorf", "Besançon", "Ljubljana", "Škofja Loka", "Đakovo",
    "Sarajevo", "Beograd", "Novi Sad", "Subotica", "Plzeň", "Győr", "Timișoara", "Iași",
    "Reykjavík", "Tromsø", "Málaga", "A Coruña", "Orléans", "Nürnberg", "Ålesund",
]  # fmt: skip
_INDUSTRIES = [
    "Telekom", "Logistics", "Systems", "Health", "Bank", "Foods", "Energy", "Media", "Labs",
    "Consulting", "Group", "Holdings", "Retail", "Motors", "Pharma", "Insurance", "Airlines",
    "Hotels", "Software", "Networks", "Engineering", "Textiles", "Analytics", "Robotics",
    "Shipping", "Dairy", "Brewery", "Architects", "Legal", "Clinic",
]  # fmt: skip
_LEGAL_FORMS = ["", "", "", "", "", " d.o.o.", " GmbH", " AB", " Ltd", " Inc.", " a.d.", " S.A.", " AS"]

# Yearly list price per licence, in cents.
_PRICE_CENTS = {"MEETINGS": 9600, "CALLING": 12000, "MESSAGING": 4800, "REAL_TIME_TRANSLATION": 6000}
_PRODUCT_ODDS = (("MEETINGS", 0.85), ("CALLING", 0.55), ("MESSAGING", 0.22), ("REAL_TIME_TRANSLATION", 0.10))


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later (or the month's last day).

    Args:
        day: The start date.
        months: Months to add; may be negative.

    Returns:
        The shifted date.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _term_end(start: dt.date, months: int) -> dt.date:
    # A 12-month term from 2026-01-10 ends on 2027-01-09 (SPEC §5 example).
    return add_months(start, months) - DAY


def _weighted(rng: random.Random, options: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def _domain(partner: str) -> str:
    cleaned = "".join(ch for ch in partner.lower() if ch.isascii() and (ch.isalnum() or ch == "-")).strip("-")
    return cleaned or "partner"


class _Generator:
    """One pass of random choices; customers are produced in a fixed order."""

    def __init__(self, *, customers: int, seed: int, partner: str, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.count = customers
        self.partner = partner
        self.today = today
        self.id_width = max(6, len(str(customers)))
        self.names: set[str] = set()
        self.next_sub = 100_001
        self.next_trial = 1
        self.next_invoice = 1
        self.next_order = 1
        self.currency = "USD"
        # Snapshot days today - 7k, oldest first, as (ordinal, ISO text).
        self.weeks = [
            ((today - 7 * k * DAY).toordinal(), (today - 7 * k * DAY).isoformat())
            for k in range(HISTORY_WEEKS - 1, -1, -1)
        ]
        self.admins = self._admins()
        self.full_admins = [a["id"] for a in self.admins if a["role"] == "PARTNER_FULL_ADMIN"]
        self.sales_admins = [a["id"] for a in self.admins if a["role"] in ("SALES_FULL_ADMIN", "SALES_ADMIN")]

    # -- partner and admins ----------------------------------------------

    def header(self) -> dict[str, Any]:
        name = self.partner.replace("-", " ").replace("_", " ").title()
        return {"id": self.partner, "name": f"{name} Partner", "admins": self.admins}

    def _admins(self) -> list[dict[str, Any]]:
        domain = _domain(self.partner)
        # Sales teams grow mildly with the customer base.
        roster = (
            ("PARTNER_FULL_ADMIN", "full", 2),
            ("PARTNER_READ_ONLY_ADMIN", "readonly", 2),
            ("SALES_FULL_ADMIN", "salesfull", 3),
            ("SALES_ADMIN", "sales", min(4 + self.count // 2000, 50)),
        )
        admins: list[dict[str, Any]] = []
        person = 0
        for role, tag, count in roster:
            for _ in range(count):
                first = _FIRST_NAMES[person % len(_FIRST_NAMES)]
                round_ = person // len(_FIRST_NAMES)
                local = f"{first}{round_ + 1}" if round_ else first
                surname = _SURNAMES[(person * 7) % len(_SURNAMES)]
                admins.append(
                    {
                        "id": f"adm-{len(admins) + 1:03d}",
                        "email": f"{local}.{tag}@{domain}.example",
                        "displayName": f"{first.capitalize()} {surname}",
                        "role": role,
                    }
                )
                person += 1
        return admins

    # -- customers --------------------------------------------------------

    def customers(self) -> Iterator[dict[str, Any]]:
        for number in range(1, self.count + 1):
            yield self._customer(number)

    def _name(self) -> str:
        """A name no other customer of the partner has (case- and accent-folded), without numbered copies.

        Single-word prefixes give 83 × 30 × 13 = 32,370 names; after a clash a
        brand and a place together (51 × 32 × 30 × 13 = 636,480 more) are drawn
        until one is free, so 100,000 customers still read like companies.
        """
        rng = self.rng
        prefix = rng.choice(_PLACES) if rng.random() < 0.3 else rng.choice(_BRANDS)
        name = f"{prefix} {rng.choice(_INDUSTRIES)}{rng.choice(_LEGAL_FORMS)}"
        while fold(name) in self.names:
            prefix = f"{rng.choice(_BRANDS)} {rng.choice(_PLACES)}"
            name = f"{prefix} {rng.choice(_INDUSTRIES)}{rng.choice(_LEGAL_FORMS)}"
        self.names.add(fold(name))
        return name

    def _customer(self, number: int) -> dict[str, Any]:
        rng, today = self.rng, self.today
        name = self._name()
        managed_by = "PARTNER_ORG" if rng.random() < 0.7 else "EXTERNAL_ADMIN"
        assignees = sorted(rng.sample(self.sales_admins, _weighted(rng, ((0, 12), (1, 63), (2, 25)))))
        self.currency = "USD" if rng.random() < 0.65 else "EUR"
        subscriptions: list[dict[str, Any]] = []
        trials: list[dict[str, Any]] = []
        profile = _weighted(
            rng, (("subscriber", 68), ("trialist", 14), ("lapsed", 10), ("onboarding", 5), ("suspended", 3))
        )
        if profile == "subscriber":
            main = self._subscriber_main()
            subscriptions.append(main)
            if rng.random() < 0.20 and (today - self._d(main["startsOn"])).days < 700:
                subscriptions.append(self._previous(self._d(main["startsOn"])))
            if rng.random() < 0.18:
                trials.append(self._converted_trial(self._d(main["startsOn"]), main, assignees))
            if rng.random() < 0.08:
                owned = {line["product"] for line in main["lines"]}
                trials.append(self._active_trial(assignees, avoid=owned))
            if rng.random() < 0.05:
                subscriptions.append(self._subscriber_main(products=("CALLING",)))
        elif profile == "trialist":
            trials.append(self._active_trial(assignees))
            if rng.random() < 0.25:
                trials.append(self._old_trial("CANCELLED", assignees))
        elif profile == "lapsed":
            subscriptions.append(self._lapsed())
            if rng.random() < 0.3:
                trials.append(self._old_trial("CANCELLED", assignees))
        elif profile == "onboarding":
            start = today - rng.randint(0, 14) * DAY
            sub = self._subscription("PENDING_SETUP", start, _term_end(start, self._term()), rng.random() < 0.6)
            subscriptions.append(sub)
            if rng.random() < 0.5:
                trials.append(self._converted_trial(start, sub, assignees))
        else:
            start = today - rng.randint(100, 700) * DAY
            term = self._term()
            end = _term_end(start, term)
            while end < today:
                end = _term_end(end + DAY, term)
            subscriptions.append(self._subscription("SUSPENDED", start, end, rng.random() < 0.5))

        first_start = min(self._d(p["startsOn"]) for p in subscriptions + trials)
        created = first_start - rng.randint(0, 21) * DAY
        roll = rng.random()
        if roll < 0.15:
            last_activity = None
        elif roll < 0.65:
            last_activity = max(created, today - rng.randint(0, 30) * DAY)
        else:
            last_activity = max(created, today - rng.randint(31, 400) * DAY)
        return {
            "id": f"cust-{number:0{self.id_width}d}",
            "name": name,
            "managedBy": managed_by,
            "createdOn": created.isoformat(),
            "lastAdminActivityOn": last_activity.isoformat() if last_activity else None,
            "admins": assignees,
            "subscriptions": subscriptions,
            "trials": trials,
        }

    @staticmethod
    def _d(text: str) -> dt.date:
        return dt.date.fromisoformat(text)

    def _term(self) -> int:
        return _weighted(self.rng, ((12, 60), (24, 25), (36, 15)))

    # -- subscriptions ----------------------------------------------------

    def _subscriber_main(self, products: tuple[str, ...] | None = None) -> dict[str, Any]:
        """A live ACTIVE subscription; the scenario fills the day windows."""
        rng, today = self.rng, self.today
        term = self._term()
        auto = rng.random() < 0.65
        scenario = _weighted(rng, (("steady", 55), ("ends_30", 10), ("ends_90", 12), ("new_30", 8), ("new_90", 10)))
        if scenario in ("ends_30", "ends_90"):
            end = today + (rng.randint(0, 30) if scenario == "ends_30" else rng.randint(31, 90)) * DAY
            terms = rng.randint(1, 2) if auto and term < 36 else 1
            start = add_months(end + DAY, -term * terms)
        elif scenario in ("new_30", "new_90"):
            start = today - (rng.randint(0, 30) if scenario == "new_30" else rng.randint(31, 90)) * DAY
            end = _term_end(start, term)
        elif auto:
            # Renewed every term since it started; endsOn is the current term's end.
            start = today - rng.randint(91, 1000) * DAY
            end = _term_end(start, term)
            while end < today:
                end = _term_end(end + DAY, term)
        else:
            start = today - rng.randint(91, term * 30) * DAY
            end = _term_end(start, term)
        return self._subscription("ACTIVE", start, end, auto, products=products)

    def _previous(self, next_start: dt.date) -> dict[str, Any]:
        rng = self.rng
        end = next_start - rng.randint(1, 30) * DAY
        start = add_months(end + DAY, -12)
        status = "CANCELLED" if rng.random() < 0.5 else "ACTIVE"  # ACTIVE but over: not renewed
        return self._subscription(status, start, end, False)

    def _lapsed(self) -> dict[str, Any]:
        rng, today = self.rng, self.today
        term = self._term()
        if rng.random() < 0.6:
            end = today - rng.randint(1, 365) * DAY
            start = add_months(end + DAY, -term)
            return self._subscription("ACTIVE", start, end, False)
        end = today + rng.randint(-300, 60) * DAY
        start = add_months(end + DAY, -term)
        return self._subscription("CANCELLED", start, end, False)

    def _subscription(
        self,
        status: str,
        start: dt.date,
        end: dt.date,
        auto: bool,
        products: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        sub_id = f"Sub-{self.next_sub}"
        self.next_sub += 1
        lines = [
            self._line(product, self._total(5, 2000), start, end, status, ramp=(4, 20))
            for product in (products or self._products())
        ]
        invoices = self._invoices(start, end, status, lines)
        orders = self._orders(start, end, status, lines)
        return {
            "subscriptionId": sub_id,
            "status": status,
            "startsOn": start.isoformat(),
            "endsOn": end.isoformat(),
            "autoRenew": auto,
            "lines": lines,
            "invoices": invoices,
            "orders": orders,
        }

    def _products(self, avoid: set[str] | None = None) -> list[str]:
        rng = self.rng
        chosen = [p for p, odds in _PRODUCT_ODDS if rng.random() < odds and not (avoid and p in avoid)]
        if not chosen:
            options = [p for p, _ in _PRODUCT_ODDS if not (avoid and p in avoid)] or ["MEETINGS"]
            chosen = [options[0] if rng.random() < 0.6 else rng.choice(options)]
        return chosen

    def _total(self, low: int, high: int) -> int:
        # Log-uniform: many small customers, a long tail of big ones.
        value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return max(low, min(high, round(value / 5.0) * 5 if value > 50 else round(value)))

    def _line(
        self, product: str, total: int, start: dt.date, end: dt.date, status: str, *, ramp: tuple[int, int]
    ) -> dict[str, Any]:
        rng, today = self.rng, self.today
        usage: list[dict[str, Any]] = []
        if status != "PENDING_SETUP":  # not set up yet: nobody can be assigned
            kind = rng.random()
            if kind < 0.09:
                target, over = rng.uniform(1.03, 1.4), True
            elif kind < 0.22:
                target, over = rng.uniform(0.02, 0.22), False
            else:
                target, over = rng.uniform(0.45, 0.98), False
            ramp_weeks = rng.randint(*ramp)
            use_rate = rng.uniform(0.35, 0.95)
            first, last = start.toordinal(), min(end, today).toordinal()
            scale = total * target
            rand = rng.random
            # The hot loop of the generator (~1.5 M snapshots for 100,000
            # customers): plain arithmetic on day ordinals and rng.random().
            for ordinal, iso in self.weeks:
                if ordinal < first or ordinal > last:
                    continue
                growth = 0.25 + 0.75 * (ordinal - first) / (7.0 * ramp_weeks)
                if growth > 1.0:
                    growth = 1.0
                assigned = round(scale * growth * (0.97 + 0.06 * rand()))
                used = int(assigned * use_rate * (0.9 + 0.15 * rand()))
                if used > assigned:
                    used = assigned
                used90 = used + int((assigned - used) * (0.3 + 0.6 * rand()))
                usage.append({"date": iso, "assigned": assigned, "used": used, "used90": used90})
            if over and usage and usage[-1]["assigned"] <= total:
                # Over-limit lines must be over on their latest snapshot.
                usage[-1]["assigned"] = total + max(1, int(total * (target - 1.0)))
        return {"product": product, "total": total, "usage": usage}

    def _invoices(self, start: dt.date, end: dt.date, status: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng, today = self.rng, self.today
        yearly = sum(_PRICE_CENTS[line["product"]] * line["total"] for line in lines)
        discount = rng.uniform(0.75, 1.0)
        invoices = []
        issued = start
        year = 0
        while issued <= today and issued <= end:
            cents = round(yearly * discount)
            due = issued + 30 * DAY
            if due < today:
                state = "OVERDUE" if rng.random() < 0.08 else "PAID"
            else:
                state = "UNPAID" if rng.random() < 0.6 else "PAID"
            invoices.append(
                {
                    "number": f"INV-{self.next_invoice:07d}",
                    "issuedOn": issued.isoformat(),
                    "dueOn": due.isoformat(),
                    "amount": f"{cents // 100}.{cents % 100:02d}",
                    "currency": self.currency,
                    "status": state,
                }
            )
            self.next_invoice += 1
            year += 1
            issued = add_months(start, 12 * year)
        if status == "SUSPENDED" and invoices:
            invoices[-1]["status"] = "OVERDUE"  # the usual reason for a suspension
        return invoices

    def _order(self, placed: dt.date, action: str, product: str, quantity: int) -> dict[str, Any]:
        order = {
            "number": f"ORD-{self.next_order:07d}",
            "placedOn": placed.isoformat(),
            "action": action,
            "product": product,
            "quantity": quantity,
        }
        self.next_order += 1
        return order

    def _orders(self, start: dt.date, end: dt.date, status: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The order history of a subscription: per line, NEW + ADD_LICENSES − REMOVE_LICENSES equals its total.

        RENEWAL and CANCELLATION name the quantity renewed or ended and change nothing.
        """
        rng, today = self.rng, self.today
        first = lines[0]
        span = (min(end, today) - start).days
        changes: list[dict[str, Any]] = []
        added = removed = 0
        if span > 30 and rng.random() < 0.25 and first["total"] > 1:
            added = rng.randint(1, min(100, first["total"] - 1))
            changes.append(self._order(start + rng.randint(15, span) * DAY, "ADD_LICENSES", first["product"], added))
        if span > 30 and rng.random() < 0.08:
            removed = rng.randint(1, 20)
            changes.append(
                self._order(start + rng.randint(15, span) * DAY, "REMOVE_LICENSES", first["product"], removed)
            )
        orders = [
            self._order(
                start - rng.randint(0, 10) * DAY,
                "NEW",
                line["product"],
                line["total"] - added + removed if line is first else line["total"],
            )
            for line in lines
        ]
        # One RENEWAL per completed year of a multi-year run (first product).
        renewal = add_months(start, 12)
        while renewal <= min(end, today):
            orders.append(self._order(renewal - rng.randint(0, 14) * DAY, "RENEWAL", first["product"], first["total"]))
            renewal = add_months(renewal, 12)
        orders += changes
        if status == "CANCELLED":
            orders.append(
                self._order(
                    min(end, today) - rng.randint(0, 20) * DAY, "CANCELLATION", first["product"], first["total"]
                )
            )
        return orders

    # -- trials -----------------------------------------------------------

    def _trial(
        self, status: str, start: dt.date, end: dt.date, assignees: list[str], products: list[str]
    ) -> dict[str, Any]:
        rng = self.rng
        trial: dict[str, Any] = {
            "trialId": trial_id(self.next_trial),
            "status": status,
            "startsOn": start.isoformat(),
            "endsOn": end.isoformat(),
        }
        self.next_trial += 1
        roll = rng.random()
        if assignees and roll < 0.7:
            trial["startedBy"] = rng.choice(assignees)
        elif roll < 0.85:
            trial["startedBy"] = rng.choice(self.full_admins)
        trial["lines"] = [self._line(p, self._total(5, 200), start, end, "ACTIVE", ramp=(1, 4)) for p in products]
        return trial

    def _active_trial(self, assignees: list[str], avoid: set[str] | None = None) -> dict[str, Any]:
        rng, today = self.rng, self.today
        # Started 0-60 days ago, at most 90 days long, still running today.
        since = rng.randint(0, 60)
        length = rng.randint(max(since, 14), 90)
        start = today - since * DAY
        products = self._products(avoid)[:2]
        return self._trial("ACTIVE", start, start + length * DAY, assignees, products)

    def _converted_trial(self, sub_start: dt.date, sub: dict[str, Any], assignees: list[str]) -> dict[str, Any]:
        rng = self.rng
        end = sub_start - rng.randint(0, 3) * DAY
        start = end - rng.choice((14, 30, 30, 45, 60)) * DAY
        products = [line["product"] for line in sub["lines"]][:2]
        return self._trial("CONVERTED", start, end, assignees, products)

    def _old_trial(self, status: str, assignees: list[str]) -> dict[str, Any]:
        rng, today = self.rng, self.today
        end = today - rng.randint(10, 500) * DAY
        start = end - rng.choice((14, 30, 45, 60, 90)) * DAY
        return self._trial(status, start, end, assignees, self._products()[:1])


def generate_document(*, customers: int, seed: int = 1, partner: str = "demo", today: dt.date) -> dict[str, Any]:
    """A realistic, deterministic import document for one partner.

    Args:
        customers: How many customers to generate.
        seed: Seed of the random generator; same arguments, same document.
        partner: The partner's id (also used for admin email domains).
        today: The day the data is relative to (plans, usage, activity).

    Returns:
        The document (SPEC §5): 11+ admins of all four roles, ``customers``
        customers with subscriptions of every status, trials, four
        products, 26 weekly usage snapshots, invoices and orders.
    """
    generator = _Generator(customers=customers, seed=seed, partner=partner, today=today)
    return {"partners": [{**generator.header(), "customers": list(generator.customers())}]}


class _ProgressBar:
    """A one-line stderr bar, drawn only for a person watching a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled

    def advance(self, count: int) -> None:
        self.done += count
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\rseeding [{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} customers")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


async def seed(
    session: AsyncSession,
    *,
    customers: int,
    seed: int = 1,
    partner: str = "demo",
    today: dt.date,
    progress: bool = False,
    chunk_size: int = 2000,
) -> LoadResult:
    """Generate demo data and load it, chunk by chunk.

    The data is exactly that of :func:`generate_document` with the same
    arguments; each chunk of ``chunk_size`` customers is loaded (and
    committed) on its own, which bounds memory and lets a bar advance.

    Args:
        session: The session to load with.
        customers: How many customers to generate.
        seed: Seed of the random generator.
        partner: The partner's id.
        today: The day the data is relative to.
        progress: Draw a progress bar on stderr (only when it is a terminal).
        chunk_size: Customers per load transaction.

    Returns:
        The summed load results (partner and admins counted once).
    """
    generator = _Generator(customers=customers, seed=seed, partner=partner, today=today)
    header = generator.header()
    bar = _ProgressBar(customers, progress and sys.stderr.isatty())
    total = LoadResult()
    chunk: list[dict[str, Any]] = []
    try:
        for customer in generator.customers():
            chunk.append(customer)
            if len(chunk) >= chunk_size:
                total += await load_document(session, {"partners": [{**header, "customers": chunk}]})
                bar.advance(len(chunk))
                chunk = []
        if chunk or customers == 0:
            total += await load_document(session, {"partners": [{**header, "customers": chunk}]})
            bar.advance(len(chunk))
    finally:
        bar.close()
    total.partners = 1
    total.admins = len(header["admins"])
    return total
