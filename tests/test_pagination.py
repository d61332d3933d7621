"""The keyset paginator on its own: both directions, ties in the sort key, cursors that
were tampered with, and one query per page at any depth."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.clients.models import Client
from tally.pagination import DateKey, IntKey, KeysetPaginator

pytestmark = pytest.mark.django_db
OURS = signing.Signer(salt="tally.pagination:test.clients:day,id:asc")


@pytest.fixture
def clients(db):
    """23 clients whose creation days tie in threes: the order needs the id."""
    from tests.factories import make_client

    made = [make_client(f"c{n:02d}") for n in range(23)]
    for n, client in enumerate(made):
        day = datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=n // 3)
        Client.objects.filter(pk=client.pk).update(created_at=day)
    return Client.objects.filter(pk__in=[c.pk for c in made])


def by_day(descending):
    return KeysetPaginator("test.clients", [DateKey("day"), IntKey("id")], descending)


def annotated(clients):
    from django.db.models.functions import TruncDate

    return clients.annotate(day=TruncDate("created_at"))


def walk(paginator, qs, limit):
    pages, cursor = [], None
    while True:
        page = paginator.paginate(qs, paginator.decode(cursor), limit, ["id", "day"])
        pages.append(page)
        if page.next is None:
            return pages
        cursor = page.next


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 23, 50])
def test_pages_walk_every_row_once_in_order_and_back_again(clients, descending, limit):
    qs = annotated(clients)
    paginator = by_day(descending)
    expected = [
        r["id"]
        for r in qs.order_by(*(("-day", "-id") if descending else ("day", "id"))).values("id")
    ]
    pages = walk(paginator, qs, limit)
    assert [r["id"] for p in pages for r in p.results] == expected
    assert pages[0].prev is None
    assert all(len(p.results) == limit for p in pages[:-1])
    # Back from the last page, one page at a time, to the first (which has no prev).
    back, cursor = [], pages[-1].prev
    while cursor is not None:
        page = paginator.paginate(qs, paginator.decode(cursor), limit, ["id", "day"])
        back.insert(0, [r["id"] for r in page.results])
        assert page.next is not None
        cursor = page.prev
    assert back == [[r["id"] for r in p.results] for p in pages[:-1]]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 3, 4, 50])
def test_rows_read_whole_page_as_the_query_does_with_the_same_cursors(clients, descending, limit):
    qs = annotated(clients)
    paginator = by_day(descending)
    rows = list(qs.values("id", "day").order_by("?"))  # any order: the paginator sorts
    pages = walk(paginator, qs, limit)
    cursor = None
    for expected in pages:
        page = paginator.paginate_rows(rows, paginator.decode(cursor), limit)
        assert page == expected
        cursor = page.next
    # And back from the last page, with the query's own cursors.
    assert paginator.paginate_rows(rows, paginator.decode(pages[-1].prev), limit) == (
        paginator.paginate(qs, paginator.decode(pages[-1].prev), limit, ["id", "day"])
    )


def test_a_page_reached_backwards_links_forward_to_the_page_it_came_from(clients):
    qs = annotated(clients)
    paginator = by_day(False)
    first, second, third = walk(paginator, qs, 3)[:3]
    again = paginator.paginate(qs, paginator.decode(third.prev), 3, ["id"])
    assert again.results == second.results  # the keys come with the columns asked for
    forward = paginator.paginate(qs, paginator.decode(again.next), 3, ["id", "day"])
    assert forward.results == third.results


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        signing.Signer(salt="another list").sign_object(["a", "2026-01-02", 5]),
        OURS.sign_object(["a", "2026-01-02"]),
        OURS.sign_object(["x", "2026-01-02", 5]),
        OURS.sign_object(["a", "1e999", 5]),
        OURS.sign_object(["a", "2026-01-02", 2**64]),
        OURS.sign_object({"a": 1}),
    ],
)
def test_a_tampered_or_foreign_cursor_is_the_first_page(clients, cursor):
    qs = annotated(clients)
    paginator = by_day(False)
    first = paginator.paginate(qs, None, 4, ["id", "day"])
    assert paginator.decode(cursor) is None
    assert paginator.paginate(qs, paginator.decode(cursor), 4, ["id", "day"]) == first


def test_a_cursor_edited_by_hand_fails_its_signature(clients):
    qs = annotated(clients)
    paginator = by_day(False)
    token = paginator.paginate(qs, None, 4, ["id", "day"]).next
    payload, signature = token.rsplit(":", 1)
    forged = signing.b64_encode(b'["a","2026-01-05",1]').decode() + ":" + signature
    assert paginator.decode(token) is not None
    assert paginator.decode(forged) is None
    # The same position is the same cursor; nor does one carry over to the other direction.
    assert paginator.paginate(qs, None, 4, ["id", "day"]).next == token
    assert by_day(True).decode(token) is None


def test_a_page_costs_one_query_at_any_depth(clients):
    qs = annotated(clients)
    paginator = by_day(True)
    counts = []
    cursor = None
    for _ in range(7):
        with CaptureQueriesContext(connection) as ran:
            page = paginator.paginate(qs, paginator.decode(cursor), 3, ["id", "day"])
        counts.append(len(ran))
        cursor = page.next
    with CaptureQueriesContext(connection) as ran:
        paginator.paginate(qs, paginator.decode(page.prev), 3, ["id", "day"])
    assert counts == [1] * 7 and len(ran) == 1
