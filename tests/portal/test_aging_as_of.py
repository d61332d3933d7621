"""The aging report as of a past day, and the invoices behind one of its buckets."""

from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_browser(acme):
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example"))
    return browser


def test_a_bucket_of_a_past_day_lists_each_invoice_with_what_it_owed_that_day(
    acme, globex, acme_browser
):
    """The report as of 20 November counts the October invoice at 7.00, and its link
    listed it with today's 5.00 (2.00 was paid on the 22nd)."""
    october = issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))  # due 10-31
    pay(acme, 200, invoice=october, received_on=date(2026, 11, 22))
    issued_invoice(globex, picks=20, issue_date=date(2026, 10, 1))
    report = acme_browser.get(reverse("portal:aging"), {"as_of": "2026-11-20"}).content.decode()
    link = "/?bucket=1_30&amp;as_of=2026-11-20"
    assert link in report and "$7.00" in report
    html = acme_browser.get("/", {"bucket": "1_30", "as_of": "2026-11-20"}).content.decode()
    assert october.display_number in html
    assert "Balance on Nov 20, 2026" in html
    assert "1 invoice matches · $7.00 unpaid" in html
    row = html.split(f'id="invoice-{october.display_number}"')[1].split("</tr>")[0]
    assert row.endswith('<td class="num">$7.00</td>\n    ')  # the total, then the balance
    assert row.count("$7.00") == 2 and "$5.00" not in row
    # The same list today: the bucket it is in now, with what it owes now.
    html = acme_browser.get("/", {"bucket": "1_30", "as_of": "2026-11-25"}).content.decode()
    assert "1 invoice matches · $5.00 unpaid" in html


def test_the_aging_of_a_day_to_come_is_refused_next_to_the_field(acme, acme_browser):
    issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))
    response = acme_browser.get(reverse("portal:aging"), {"as_of": "2026-11-26"})
    html = response.content.decode()
    error = "Choose today (November 25, 2026) or an earlier day"
    assert error in html
    assert 'aria-invalid="true" aria-describedby="as_of-error"' in html
    assert 'id="as_of-error"' in html
    # What shows meanwhile is today's report, and it says so.
    assert "as it stood at the end of November 25, 2026" in html
    # The CSV and the bucket link refuse it too: today's figures, or no invoices.
    csv = acme_browser.get(reverse("portal:aging_csv"), {"as_of": "2026-11-26"}).content.decode()
    assert "2026-11-25" in csv and "2026-11-26" not in csv
    table = acme_browser.get("/", {"bucket": "1_30", "as_of": "2026-11-26"}).content.decode()
    assert error in table and "No invoices match" in table


def test_the_console_and_the_portal_refuse_a_day_to_come_with_one_rule():
    from tally.console.forms.overview import AsOfForm
    from tally.payments.forms import AgingDayForm
    from tally.portal import views

    assert AsOfForm is AgingDayForm is views.AgingDayForm  # one form, asked for alike
    today = date(2026, 11, 25)
    for form_class in (AgingDayForm,):
        form = form_class({"as_of": "2026-11-26"}, today=today)
        assert not form.is_valid() and form.day == today
        assert form.errors["as_of"] == [
            "Choose today (November 25, 2026) or an earlier day: the aging of a day to come "
            "is not known yet."
        ]
        assert form_class({"as_of": "2026-11-25"}, today=today).is_valid()
