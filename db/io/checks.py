"""The rules of the import document that span records, as one table run by one walker.

They run over the raw document rather than the models, so a file whose
records fail their own checks still gets these problems too (every problem
at once); a value the models refused is not checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from db.io.fields import check_customer_name, check_email, id_key, json_path, quote
from db.models import fold


@dataclass(frozen=True)
class Check:
    """One rule over the values a path pattern names.

    Attributes:
        at: The values checked, e.g. ``partners[*].customers[*].name``; a key
            may offer alternatives (``subscriptions|trials``).
        within: How many ``[*]`` of ``at`` make one namespace: 0 the whole
            document, 1 each partner, and so on.
        message: The problem, with ``{value}`` (quoted as the file said it),
            ``{first}`` (path of the earlier value) and ``{scope}`` (path of
            the namespace).
        key: What two values are compared by (the cleaned value), the value
            itself when not given; a key of ``None`` leaves a value out.
        known: For a reference, the pattern of the ids it must name, in the
            same namespace; the rule is then "unknown", not "unique".
        after: For an order rule, the sibling key whose value this one must
            not be earlier than.
    """

    at: str
    within: int
    message: str
    key: Callable[[Any], Any] | None = None
    known: str | None = None
    after: str | None = None


def _duplicate(what: str) -> str:
    return f"duplicate {what} {{value}} (first at {{first}})"


_P = "partners[*]"
_C = f"{_P}.customers[*]"
_PLAN = f"{_C}.subscriptions|trials[*]"

CHECKS: tuple[Check, ...] = (
    Check(f"{_P}.id", 0, _duplicate("partner id"), id_key),
    Check(f"{_P}.admins[*].id", 1, _duplicate("admin id"), id_key),
    # Emails are unique within a partner (SPEC §3.2); a token is one login anywhere.
    Check(f"{_P}.admins[*].email", 1, _duplicate("email"), check_email),
    Check(f"{_P}.admins[*].token", 0, "duplicate token (first at {first})"),
    Check(f"{_C}.id", 1, _duplicate("customer id"), id_key),
    Check(f"{_C}.name", 1, _duplicate("customer name"), lambda name: fold(check_customer_name(name))),
    Check(f"{_C}.admins[*]", 1, "unknown admin id {value}", id_key, known=f"{_P}.admins[*].id"),
    Check(f"{_C}.admins[*]", 2, _duplicate("admin id"), id_key),
    Check(f"{_C}.subscriptions[*].subscriptionId", 1, _duplicate("subscriptionId"), id_key),
    Check(f"{_C}.trials[*].trialId", 1, _duplicate("trialId"), id_key),
    Check(f"{_C}.trials[*].startedBy", 1, "unknown admin id {value}", id_key, known=f"{_P}.admins[*].id"),
    Check(
        f"{_C}.trials[*].status",
        2,
        "a customer may have at most one ACTIVE trial (another at {first})",
        lambda status: status if status == "ACTIVE" else None,
    ),
    # Valid dates are YYYY-MM-DD, so their text compares as the dates do.
    Check(f"{_PLAN}.endsOn", 3, "before startsOn", after="startsOn"),
    Check(f"{_PLAN}.lines[*].product", 3, _duplicate("product line")),
    Check(f"{_PLAN}.lines[*].usage[*].date", 4, "duplicate snapshot date {value} in {scope}"),
    Check(f"{_C}.subscriptions[*].invoices[*].number", 1, _duplicate("invoice number"), id_key),
    Check(f"{_C}.subscriptions[*].orders[*].number", 1, _duplicate("order number"), id_key),
)

# A place in the raw document: (parent place, key or index), built as the
# walk descends and spelled out only when a problem is reported.
_Place = tuple[Any, str | int] | None
_Loc = tuple[str | int, ...]


def _flat(place: _Place) -> _Loc:
    parts: list[str | int] = []
    while place is not None:
        place, part = place
        parts.append(part)
    return tuple(reversed(parts))


_Walks = dict[tuple[str, int], list[tuple[_Place, _Place, int, Any]]]


def _lists(doc: object, pattern: str, within: int, walks: _Walks) -> list[tuple[_Place, _Place, int, list[Any]]]:
    """The lists whose items ``pattern`` ends at, as (place, namespace's place, namespace's id, list).

    The walk stops at the lists, so the millions of snapshots of a file are
    looked at by the caller's loop, not as tuples built here; ``walks`` keeps
    each level for the next rule with the same prefix. A namespace is known
    by the id of its node (a partner's dict, say), so two walks (a reference
    and its targets) agree on it.
    """
    found: list[tuple[_Place, _Place, int, Any]] = [(None, None, 0, doc)]
    stars = 0
    prefix = ""
    for step in pattern.replace("[*]", ".*").split("."):
        stars += step == "*"
        prefix += f".{step}"
        # Above the namespace's level every rule sees the same entries.
        cached = walks.get(memo := (prefix, within if within <= stars else -1))
        if cached is not None:
            found = cached
            continue
        deeper: list[tuple[_Place, _Place, int, Any]] = []
        if step == "*":
            for place, scope, scope_id, node in found:
                if type(node) is list:
                    for i, item in enumerate(node):
                        here = (place, i)
                        deeper.append(
                            (here, here, id(item), item) if stars == within else (here, scope, scope_id, item)
                        )
        else:
            for key in step.split("|"):
                deeper.extend(
                    ((place, key), scope, scope_id, node[key])
                    for place, scope, scope_id, node in found
                    if type(node) is dict and key in node
                )
        found = walks[memo] = deeper
    return [entry for entry in found if type(entry[3]) is list]


def _values(pattern: str, items: list[Any]) -> list[tuple[int, Any, Any]]:
    """(index, value, record) of the items of one list that ``pattern`` names; nulls left out."""
    field = pattern.rpartition("[*]")[2].lstrip(".")
    if not field:
        return [(i, item, None) for i, item in enumerate(items) if item is not None]
    return [
        (i, item[field], item) for i, item in enumerate(items) if type(item) is dict and item.get(field) is not None
    ]


def _finds_nothing(
    check: Check, lists: list[tuple[_Place, _Place, int, list[Any]]], field: str, known: dict[int, set[Any]]
) -> bool:
    """Whether a rule passes on a document whose records all passed pass 1.

    The common case, so it is decided with set operations over whole lists
    and no tuple per value; only a document that breaks the rule pays for
    finding where.
    """
    after = check.after
    if after is not None:
        return not any(
            (value := record.get(field)) is not None and (other := record.get(after)) is not None and value < other
            for _, _, _, items in lists
            for record in items
        )
    groups: dict[int, list[Any]] = {}
    for _, _, scope_id, items in lists:
        group = groups.get(scope_id)
        if group is None:
            # A copy: the document's own lists are never extended.
            groups[scope_id] = list(items) if not field else [item.get(field) for item in items]
        else:
            group.extend(items if not field else [item.get(field) for item in items])
    key = check.key
    for scope_id, values in groups.items():
        keys = [value for value in values if value is not None]
        if key is not None:
            keys = [k for value in keys if (k := key(value)) is not None]
        if check.known is not None:
            if not known.get(scope_id, set()).issuperset(keys):
                return False
        elif len(set(keys)) != len(keys):
            return False
    return True


def _container(pattern: str) -> str:
    return pattern[: pattern.rindex("[*]")]


def run_check(check: Check, doc: object, refused: set[_Loc], walks: _Walks) -> list[tuple[_Loc, str]]:
    """The problems of one rule.

    Values pass 1 refused (``refused``) and nulls are skipped; a value this
    rule flags joins ``refused``, so later rules leave it alone. ``walks``
    is shared by the rules of one document.
    """
    field = check.at.rpartition("[*]")[2].lstrip(".")

    def loc(place: _Place, index: int) -> _Loc:
        return (*_flat(place), index, field) if field else (*_flat(place), index)

    def usable(place: _Place, entries: list[tuple[int, Any, Any]]) -> list[tuple[int, Any, Any]]:
        if not refused:
            return entries
        return [entry for entry in entries if loc(place, entry[0]) not in refused]

    key = check.key
    known: dict[int, set[Any]] = {}
    if check.known is not None:
        target = check.known.rpartition("[*]")[2].lstrip(".")
        for place, _, scope_id, items in _lists(doc, _container(check.known), check.within, walks):
            ids = known.setdefault(scope_id, set())
            for i, item in enumerate(items):
                value = item.get(target) if type(item) is dict else None
                if value is not None and not (refused and (*_flat(place), i, target) in refused):
                    ids.add(key(value) if key else value)
    lists = _lists(doc, _container(check.at), check.within, walks)
    if not refused and _finds_nothing(check, lists, field, known):
        return []
    problems: list[tuple[_Loc, str]] = []
    firsts: dict[int, dict[Any, tuple[_Place, int]]] = {}
    for place, scope, scope_id, items in lists:
        entries = usable(place, _values(check.at, items))
        if check.after is not None:
            bad = [
                i
                for i, value, record in entries
                if (other := record.get(check.after)) is not None
                and not (refused and (*_flat(place), i, check.after) in refused)
                and value < other
            ]
            problems.extend((loc(place, i), check.message) for i in bad)
            continue
        keyed = [(i, value, key(value) if key else value) for i, value, _ in entries]
        keys = [entry for entry in keyed if entry[2] is not None]
        if check.known is not None:
            ids = known.get(scope_id, set())
            problems.extend(
                (loc(place, i), check.message.format(value=quote(str(value)))) for i, value, k in keys if k not in ids
            )
            continue
        seen = firsts.setdefault(scope_id, {})
        for i, value, k in keys:
            first = seen.get(k)
            if first is None:
                seen[k] = (place, i)
                continue
            message = check.message.format(
                value=quote(str(value)), first=json_path(loc(*first)), scope=json_path(_flat(scope))
            )
            problems.append((loc(place, i), message))
    for problem_loc, _ in problems:
        refused.add(problem_loc)
    return problems
