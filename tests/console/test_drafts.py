"""Drafts to review: the list, a draft's page as the client will see it (lines, events,
rates, the change against the previous invoice), adjustments, issuing, deleting."""

import uuid
from datetime import date

import pytest

from tally.accounts.models import Role
from tally.audit.models import AuditAction, AuditEvent
from tally.console.queries import drafts as queries
from tally.console.queries.line_events import line_events
from tally.console.services import drafts as services
from tally.console.services.submissions import AlreadySubmitted
from tally.errors import DomainError, NotFound
from tally.invoicing.models import Invoice, InvoiceEmail, InvoiceStatus, LineKind
from tally.invoicing.services import add_adjustment
from tally.rating.services import create_rate_card
from tests.factories import (
    add_events,
    assert_lines_total_their_events,
    draft_invoice,
    generate,
    issued_invoice,
    make_client,
    make_user,
)

pytestmark = pytest.mark.django_db

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def key():
    return uuid.uuid4()


@pytest.fixture
def october(acme):
    """Acme's October draft: 10 picks ($3.50) and 20 labels ($0.90)."""
    return draft_invoice(acme, picks=10, labels=20)


# --- the list ------------------------------------------------------------------------


def test_the_list_shows_every_clients_drafts_oldest_first_and_no_issued_invoice(acme, globex):
    first = draft_invoice(acme, picks=10)
    issued_invoice(acme, picks=5, period=SEPTEMBER, issue_date=date(2026, 10, 1))
    second = draft_invoice(globex, picks=3, labels=2)
    listing = queries.draft_list()
    assert [r.id for r in listing.rows] == [first.pk, second.pk]
    assert listing.total == 2
    row = listing.rows[1]
    assert (row.client_name, row.total_minor, row.lines) == ("Globex Inc.", 114, 2)
    assert (row.period_start, row.period_end) == (date(2026, 10, 1), date(2026, 10, 31))


def test_a_deleted_draft_leaves_the_list(acme, operator, october):
    services.delete_draft(actor=operator, invoice_id=october.pk, reason="Wrong", key=key())
    assert queries.draft_list().rows == []


def test_the_list_pages_with_the_keyset_paginator():
    made = [draft_invoice(make_client(), picks=1) for _ in range(5)]
    first = queries.draft_list(limit=2)
    second = queries.draft_list(first.next_cursor, limit=2)
    third = queries.draft_list(second.next_cursor, limit=2)
    seen = [r.id for page in (first, second, third) for r in page.rows]
    assert seen == [d.pk for d in made]
    assert third.next_cursor is None
    back = queries.draft_list(second.prev_cursor, limit=2)
    assert [r.id for r in back.rows] == [r.id for r in first.rows]


def test_the_list_page_renders_with_checkboxes_and_a_link_per_draft(ops, october):
    response = ops.get("/console/drafts/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'name="drafts" value="{october.pk}"' in html
    assert f'href="/console/drafts/{october.pk}/"' in html
    assert "Issue selected" in html and "$4.40" in html


# --- a draft's page --------------------------------------------------------------------


def test_a_draft_page_has_its_lines_the_rate_applied_and_no_comparison_at_first(acme, october):
    page = queries.draft_page(october.pk)
    assert page.is_draft and page.number is None and page.client_name == "Acme Inc."
    assert [(x.kind, x.quantity, x.unit_price_micros, x.amount_minor) for x in page.lines] == [
        ("label", 20, 45_000, 90),
        ("pick", 10, 350_000, 350),
    ]
    [rate] = page.lines[1].rates
    assert rate.effective_from == date(2026, 1, 1) and rate.effective_to is None
    assert page.total_minor == 440
    assert page.comparison is None


def test_the_rate_named_is_the_card_the_period_was_priced_by(acme):
    add_events(acme, "pick", 4, day=date(2026, 10, 20))
    create_rate_card(
        actor=make_user(),
        client=acme,
        effective_from=date(2026, 10, 15),
        prices={"pick": "0.5000"},
        name="Peak season",
    )
    add_events(acme, "pick", 2, day=date(2026, 10, 3))
    draft = generate(acme).invoice
    lines = {x.unit_price_micros: x for x in queries.draft_page(draft.pk).lines}
    assert [r.effective_from for r in lines[350_000].rates] == [date(2026, 1, 1)]
    assert [(r.card_name, r.effective_from) for r in lines[500_000].rates] == [
        ("Peak season", date(2026, 10, 15))
    ]


def test_the_change_against_the_previous_invoice_is_per_kind_then_and_now(acme, operator):
    issued_invoice(acme, picks=10, labels=0, period=SEPTEMBER, issue_date=date(2026, 10, 1))
    before = issued_invoice(acme, picks=20, labels=10, issue_date=date(2026, 11, 1))
    draft = draft_invoice(acme, picks=30, labels=0, period=NOVEMBER)
    add_adjustment(
        actor=operator,
        client=acme,
        invoice_id=draft.pk,
        description="Goodwill",
        amount_minor=-100,
        reason="Late pickup",
    )
    c = queries.draft_page(draft.pk).comparison
    assert c.previous_number == before.display_number
    rows = {r.label: r for r in c.rows}
    assert list(rows) == ["Shipping labels", "Picks", "Adjustments"]
    assert (rows["Picks"].quantity_then, rows["Picks"].amount_then_minor) == (20, 700)
    assert (rows["Picks"].quantity_now, rows["Picks"].amount_now_minor) == (30, 1050)
    assert rows["Picks"].amount_change_minor == 350
    assert (rows["Shipping labels"].quantity_now, rows["Shipping labels"].amount_change_minor) == (
        None,
        -45,
    )
    assert (rows["Adjustments"].amount_then_minor, rows["Adjustments"].amount_now_minor) == (
        None,
        -100,
    )
    assert (c.total_then_minor, c.total_now_minor, c.total_change_minor) == (745, 950, 205)


def test_a_void_invoice_is_not_the_one_compared_with(acme):
    kept = issued_invoice(acme, picks=5, period=SEPTEMBER, issue_date=date(2026, 10, 1))
    from tests.factories import voided_invoice

    voided_invoice(acme, picks=7)
    draft = draft_invoice(acme, picks=1, period=NOVEMBER)
    assert queries.draft_page(draft.pk).comparison.previous_id == kept.pk


def test_a_lines_events_come_a_page_at_a_time_in_time_order(acme):
    add_events(acme, "pick", 7, day=date(2026, 10, 5), prefix="P")
    draft = generate(acme).invoice
    line = draft.lines.get(kind="pick")
    first = line_events(draft.pk, line.pk, limit=5)
    second = line_events(draft.pk, line.pk, first.next_cursor, limit=5)
    refs = [e.reference for e in first.rows + second.rows]
    assert refs == [f"REF-P-{i}" for i in range(7)]
    assert second.next_cursor is None and second.prev_cursor


def test_a_lines_events_are_only_its_own(acme, globex):
    add_events(acme, "pick", 3, prefix="A")
    add_events(globex, "pick", 4, prefix="G")
    add_events(acme, "label", 2, prefix="L")
    draft = generate(acme).invoice
    line = draft.lines.get(kind="pick")
    assert [e.reference for e in line_events(draft.pk, line.pk).rows] == [
        "REF-A-0",
        "REF-A-1",
        "REF-A-2",
    ]
    with pytest.raises(NotFound):
        line_events(draft.pk + 1000, line.pk)


def test_the_draft_page_renders_lines_rates_and_events_links(ops, october):
    response = ops.get(f"/console/drafts/{october.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "As Acme Inc. will see it" in html
    line = october.lines.get(kind="pick")
    assert f"/console/drafts/{october.pk}/lines/{line.pk}/" in html
    assert "from Jan 1, 2026" in html or "2026" in html
    events = ops.get(f"/console/drafts/{october.pk}/lines/{line.pk}/")
    assert events.status_code == 200 and "10 events" in events.content.decode()
    partial = ops.get(f"/console/drafts/{october.pk}/lines/{line.pk}/", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()


def test_a_missing_draft_or_line_is_a_404(ops, october):
    assert ops.get(f"/console/drafts/{october.pk + 99}/").status_code == 404
    assert ops.get(f"/console/drafts/{october.pk}/lines/999999/").status_code == 404


# --- adjustments -----------------------------------------------------------------------


def test_an_adjustment_is_added_with_its_reason_and_removed_again_audited(operator, october):
    line = services.adjust_draft(
        actor=operator,
        invoice_id=october.pk,
        description="Pallet wrap",
        amount_minor=1250,
        reason="Asked for by phone",
        key=key(),
    )
    october.refresh_from_db()
    assert october.total_minor == 440 + 1250
    services.remove_draft_adjustment(
        actor=operator, invoice_id=october.pk, line_id=line.pk, key=key()
    )
    october.refresh_from_db()
    assert october.total_minor == 440
    assert not october.lines.filter(line_type=LineKind.ADJUSTMENT).exists()
    removed = AuditEvent.objects.get(action=AuditAction.INVOICE_ADJUSTMENT_REMOVED)
    assert removed.actor_id == operator.pk and '"reason":"Asked for by phone"' in removed.data


def test_a_usage_line_cannot_be_removed_as_an_adjustment(operator, october):
    usage = october.lines.get(kind="pick")
    with pytest.raises(DomainError) as refused:
        services.remove_draft_adjustment(
            actor=operator, invoice_id=october.pk, line_id=usage.pk, key=key()
        )
    assert refused.value.code == "not_found"


def test_removing_a_charge_that_would_leave_the_discounts_above_the_invoice_is_refused(
    operator, october
):
    charge = services.adjust_draft(
        actor=operator,
        invoice_id=october.pk,
        description="Rush",
        amount_minor=1000,
        reason="Rush",
        key=key(),
    )
    services.adjust_draft(
        actor=operator,
        invoice_id=october.pk,
        description="Discount",
        amount_minor=-1200,
        reason="Goodwill",
        key=key(),
    )
    with pytest.raises(DomainError) as refused:
        services.remove_draft_adjustment(
            actor=operator, invoice_id=october.pk, line_id=charge.pk, key=key()
        )
    assert refused.value.code == "negative_total"
    october.refresh_from_db()
    assert october.total_minor == 240 and october.lines.count() == 4


def test_an_issued_invoice_takes_no_adjustment_and_loses_none(operator, october):
    line = services.adjust_draft(
        actor=operator,
        invoice_id=october.pk,
        description="Rush",
        amount_minor=100,
        reason="Rush",
        key=key(),
    )
    services.issue_draft(actor=operator, invoice_id=october.pk, key=key())
    for work in (
        lambda: services.adjust_draft(
            actor=operator,
            invoice_id=october.pk,
            description="x",
            amount_minor=1,
            reason="x",
            key=key(),
        ),
        lambda: services.remove_draft_adjustment(
            actor=operator, invoice_id=october.pk, line_id=line.pk, key=key()
        ),
    ):
        with pytest.raises(DomainError) as refused:
            work()
        assert refused.value.code == "invoice_not_draft"


def test_the_adjustment_form_puts_each_error_next_to_its_field(ops, october):
    page = ops.get(f"/console/drafts/{october.pk}/")
    form_key = page.context["adjust_form"]["key"].value()
    response = ops.post(
        f"/console/drafts/{october.pk}/adjustments/",
        {"key": form_key, "description": "Discount", "amount": "-9.99", "reason": ""},
    )
    assert response.status_code == 422
    form = response.context["adjust_form"]
    assert list(form.errors) == ["reason"]
    response = ops.post(
        f"/console/drafts/{october.pk}/adjustments/",
        {"key": form_key, "description": "Discount", "amount": "-9.99", "reason": "Goodwill"},
    )
    assert response.status_code == 422
    assert "the invoice total" in " ".join(response.context["adjust_form"].errors["amount"])
    response = ops.post(
        f"/console/drafts/{october.pk}/adjustments/",
        {"key": form_key, "description": "Discount", "amount": "-1.001", "reason": "Goodwill"},
    )
    assert response.context["adjust_form"].errors["amount"] == [
        "Enter the amount in USD with at most 2 decimals."
    ]
    response = ops.post(
        f"/console/drafts/{october.pk}/adjustments/",
        {"key": form_key, "description": "Discount", "amount": "-1.00", "reason": "Goodwill"},
    )
    assert response.status_code == 302
    # The same form again: nothing more.
    again = ops.post(
        f"/console/drafts/{october.pk}/adjustments/",
        {"key": form_key, "description": "Discount", "amount": "-1.00", "reason": "Goodwill"},
    )
    assert again.status_code == 302
    october.refresh_from_db()
    assert october.total_minor == 340


# --- issuing ---------------------------------------------------------------------------


def test_issuing_a_draft_numbers_it_and_the_page_says_so(ops, operator, october):
    page = ops.get(f"/console/drafts/{october.pk}/")
    form_key = page.context["issue_form"]["key"].value()
    response = ops.post(f"/console/drafts/{october.pk}/issue/", {"key": form_key}, follow=True)
    october.refresh_from_db()
    assert october.status == InvoiceStatus.OPEN and october.number
    html = response.content.decode()
    assert f"Issued as {october.display_number}" in html
    assert "Acme Inc. can see the invoice from now on; its email is on its way" in html
    assert f"by {operator.email}" in html
    # The same form posted again issues nothing more.
    ops.post(f"/console/drafts/{october.pk}/issue/", {"key": form_key})
    assert Invoice.objects.exclude(number=None).count() == 1


def test_an_empty_draft_is_not_issued(operator, acme):
    add_events(acme, "pick", 2, day=date(2026, 12, 3))
    empty = generate(acme).invoice  # nothing in October
    with pytest.raises(DomainError) as refused:
        services.issue_draft(actor=operator, invoice_id=empty.pk, key=key())
    assert refused.value.code == "draft_empty"
    empty.refresh_from_db()
    assert empty.status == InvoiceStatus.DRAFT and empty.number is None


def test_a_draft_issued_by_someone_else_is_refused_with_their_name(ops, acme, october):
    page = ops.get(f"/console/drafts/{october.pk}/")
    form_key = page.context["issue_form"]["key"].value()
    other = make_user(email="kim@northwind.example")
    invoice = services.issue_draft(actor=other, invoice_id=october.pk, key=key())
    response = ops.post(f"/console/drafts/{october.pk}/issue/", {"key": form_key})
    assert response.status_code == 422
    assert response.context["issue_form"].non_field_errors() == [
        f"it was issued meanwhile by kim@northwind.example, as {invoice.display_number}."
    ]


def test_issuing_several_issues_each_or_says_why_not(ops, operator, acme, globex):
    good = draft_invoice(acme, picks=3)
    add_events(globex, "pick", 1, day=date(2026, 12, 2))
    empty = generate(globex).invoice
    taken = draft_invoice(make_client("initech"), picks=2)
    services.issue_draft(
        actor=make_user(email="kim@northwind.example"), invoice_id=taken.pk, key=key()
    )
    page = ops.get("/console/drafts/")
    form_key = page.context["issue_form"]["key"].value()
    response = ops.post(
        "/console/drafts/issue/",
        {"key": form_key, "drafts": [good.pk, empty.pk, taken.pk]},
        follow=True,
    )
    good.refresh_from_db()
    taken.refresh_from_db()
    html = response.content.decode()
    assert good.status == InvoiceStatus.OPEN
    assert f"Issued 1 invoice: {good.display_number}." in html
    assert f"Draft #{empty.pk} of Globex Inc. was not issued: it has no lines" in html
    assert (
        f"Draft #{taken.pk} of Initech Inc. was not issued: it was issued meanwhile by "
        f"kim@northwind.example, as {taken.display_number}." in html
    )
    # The form a second time: nothing more.
    again = ops.post("/console/drafts/issue/", {"key": form_key, "drafts": [empty.pk]}, follow=True)
    assert "issued by the first submission" in again.content.decode()


def test_issuing_several_with_none_selected_says_so(ops, october):
    page = ops.get("/console/drafts/")
    response = ops.post(
        "/console/drafts/issue/", {"key": page.context["issue_form"]["key"].value()}
    )
    assert response.status_code == 422
    assert "Select the drafts to issue." in response.content.decode()


def test_the_same_issue_several_form_twice_issues_once(operator, acme):
    drafts = [draft_invoice(acme, picks=1, period=p) for p in (SEPTEMBER, NOVEMBER)]
    form_key = key()
    services.issue_drafts(actor=operator, invoice_ids=[d.pk for d in drafts], key=form_key)
    with pytest.raises(AlreadySubmitted):
        services.issue_drafts(actor=operator, invoice_ids=[d.pk for d in drafts], key=form_key)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [1, 2]


# --- deleting --------------------------------------------------------------------------


def test_deleting_a_draft_frees_its_events_for_the_next_run(operator, acme, october):
    services.delete_draft(actor=operator, invoice_id=october.pk, reason="Rates wrong", key=key())
    october.refresh_from_db()
    assert october.status == InvoiceStatus.VOID and october.number is None
    voided = AuditEvent.objects.get(action=AuditAction.INVOICE_VOIDED, object_id=str(october.pk))
    assert voided.actor_id == operator.pk and '"events_released":30' in voided.data
    again = generate(acme).invoice
    assert [(x.kind, x.quantity) for x in again.lines.all()] == [("label", 20), ("pick", 10)]
    assert_lines_total_their_events()


def test_an_issued_invoice_is_not_deleted_as_a_draft(operator, october):
    services.issue_draft(actor=operator, invoice_id=october.pk, key=key())
    with pytest.raises(DomainError) as refused:
        services.delete_draft(actor=operator, invoice_id=october.pk, reason="x", key=key())
    assert refused.value.code == "invoice_not_draft"


def test_the_delete_form_asks_for_a_reason_and_then_goes_back_to_the_list(ops, october):
    page = ops.get(f"/console/drafts/{october.pk}/")
    form_key = page.context["delete_form"]["key"].value()
    response = ops.post(f"/console/drafts/{october.pk}/delete/", {"key": form_key, "reason": ""})
    assert response.status_code == 422
    assert response.context["delete_form"].errors["reason"] == [
        "Say why the draft is deleted: the reason is kept."
    ]
    response = ops.post(
        f"/console/drafts/{october.pk}/delete/", {"key": form_key, "reason": "Duplicate run"}
    )
    assert response.status_code == 302 and response["Location"] == "/console/drafts/"
    deleted = ops.get(f"/console/drafts/{october.pk}/").content.decode()
    assert "Deleted before issue" in deleted and "Duplicate run" in deleted


def test_a_client_user_never_sees_a_draft_page(acme_browser, october):
    assert acme_browser.get(f"/console/drafts/{october.pk}/").status_code == 404
    assert acme_browser.get("/console/drafts/").status_code == 404


def test_unused_role_import_is_a_client_role():
    assert Role.CLIENT_USER


# --- the email on issue, on the page ---------------------------------------------------


def test_an_issued_drafts_page_shows_its_email_and_sends_it_again(ops, operator, october):
    services.issue_draft(actor=operator, invoice_id=october.pk, key=key())
    page = ops.get(f"/console/drafts/{october.pk}/")
    html = page.content.decode()
    assert "Emails to Acme Inc." in html and "On issue" in html and "Queued" in html
    assert "To ap@acme.example, with the PDF." in html
    form_key = page.context["send_form"]["key"].value()
    url = f"/console/invoices/{october.pk}/send-again/"
    response = ops.post(url, {"key": form_key})
    assert response.status_code == 302
    assert response["Location"] == f"/console/invoices/{october.pk}/#emails"
    ops.post(url, {"key": form_key})  # the same form again: nothing more
    assert InvoiceEmail.objects.filter(invoice=october).count() == 2
    html = ops.get(response["Location"]).content.decode()
    assert "is on its way again to Acme Inc.&#39;s billing contacts." in html
    assert "Sent again" in html


def test_a_void_invoice_is_not_sent_again(ops, operator, october):
    from tally.actions.invoices import void_invoice

    services.issue_draft(actor=operator, invoice_id=october.pk, key=key())
    void_invoice(actor=operator, client=october.client, invoice_id=october.pk, reason="Wrong")
    page = ops.get(f"/console/drafts/{october.pk}/")
    assert "Send again" not in page.content.decode()
    response = ops.post(
        f"/console/invoices/{october.pk}/send-again/", {"key": str(key())}, follow=True
    )
    assert "Only an issued invoice that is not void is emailed." in response.content.decode()
    assert InvoiceEmail.objects.filter(invoice=october).count() == 1


def test_a_draft_is_never_emailed(operator, october):
    with pytest.raises(DomainError) as refused:
        from tally.console.services.invoice_emails import send_invoice_again

        send_invoice_again(actor=operator, invoice_id=october.pk, key=key())
    assert refused.value.code == "invoice_not_issued"
