"""A line's events are one query for the draft page and the invoice page: the same rows,
the same cursors, whichever page asks, before and after the draft is issued."""

import re
from datetime import date

import pytest
from django.urls import reverse

from tally.actions.invoices import issue_invoice
from tally.audit.actors import SystemActor
from tally.console.queries.line_events import line_events
from tally.errors import NotFound
from tests.factories import add_events, generate

pytestmark = pytest.mark.django_db


def refs(html: str) -> list[str]:
    return re.findall(r"<td>(REF-[\w-]+)</td>", html)


def next_cursor(html: str) -> str:
    [cursor] = re.findall(r'rel="next" href="[^"?]+\?cursor=([^"]+)"', html)
    return cursor


def test_a_draft_pages_cursor_goes_on_on_the_issued_invoices_page(ops, acme):
    add_events(acme, "pick", 75, day=date(2026, 10, 5), prefix="P")
    draft = generate(acme).invoice
    line = draft.lines.get()
    on_draft = ops.get(reverse("console:draft_line", args=[draft.pk, line.pk])).content.decode()
    assert refs(on_draft) == [f"REF-P-{i}" for i in range(50)]
    assert f'href="{reverse("console:draft_line", args=[draft.pk, line.pk])}?cursor=' in on_draft
    cursor = next_cursor(on_draft)

    issue_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=draft.pk)
    url = reverse("console:invoice_line", args=[draft.pk, line.pk])
    on_invoice = ops.get(f"{url}?cursor={cursor}").content.decode()
    assert refs(on_invoice) == [f"REF-P-{i}" for i in range(50, 75)]
    assert f'rel="prev" href="{url}?cursor=' in on_invoice  # its links stay on its page
    draft.refresh_from_db()
    assert f"Events of {draft.display_number}" in on_invoice


def test_a_line_of_another_invoice_is_not_found_on_either_page(ops, acme):
    add_events(acme, "pick", 3, day=date(2026, 10, 5))
    draft = generate(acme).invoice
    line = draft.lines.get()
    with pytest.raises(NotFound):
        line_events(draft.pk + 1, line.pk)
    for name in ("console:draft_line", "console:invoice_line"):
        assert ops.get(reverse(name, args=[draft.pk + 1, line.pk])).status_code == 404
