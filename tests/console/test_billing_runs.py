"""Starting a month's billing run from the console and following it to its drafts: the
form, its refusals next to their field, a resubmission harmless, the run's page with and
without htmx, and the list of past runs."""

import uuid
from datetime import date

import pytest

from tally.console.queries import billing as queries
from tally.invoicing import services
from tally.invoicing.models import BillingRun, BillingRunClient
from tests.factories import add_events, make_client

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def key() -> str:
    return uuid.uuid4().hex


def start(ops, **form):
    return ops.post("/console/billing/", {"key": key(), "month": "2026-10", "scope": "all", **form})


def test_the_page_offers_last_month_and_every_client(ops, acme, globex):
    page = ops.get("/console/billing/").content.decode()
    assert 'name="month" type="month"' in page and 'value="2026-10"' in page  # today: Nov 25
    assert "Acme Inc." in page and "Globex Inc." in page
    assert f'name="clients" value="{acme.pk}"' in page
    assert "No billing run yet." in page
    assert 'aria-current="page">Billing runs' in page


def test_starting_a_run_queues_it_for_the_worker_and_shows_its_page(ops, operator, acme):
    response = start(ops)
    run = BillingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/console/billing/{run.pk}/"
    assert (run.period_start, run.period_end, run.clients_total) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        1,
    )
    assert run.started_by == operator and run.task_id
    page = ops.get(response["Location"]).content.decode()
    assert "Billing run for October 2026 started." in page
    assert "0 of 1</strong> client billed" in page
    assert 'hx-trigger="every 1s"' in page and 'aria-live="polite"' in page
    assert "<noscript><p><a href=" in page and "Refresh</a>" in page


def test_the_same_form_sent_twice_starts_one_run(ops, acme):
    form = {"key": key(), "month": "2026-10", "scope": "all"}
    first = ops.post("/console/billing/", form)
    second = ops.post("/console/billing/", form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert BillingRun.objects.count() == 1


def test_only_the_clients_chosen_are_billed(ops, acme, globex):
    start(ops, scope="chosen", clients=[globex.pk])
    run = BillingRun.objects.get()
    assert not run.all_clients
    assert list(BillingRunClient.objects.filter(run=run).values_list("client_id", flat=True)) == [
        globex.pk
    ]


def test_a_second_run_of_the_month_under_way_is_refused_next_to_the_month(ops, acme):
    start(ops)
    first = BillingRun.objects.get()
    response = start(ops, scope="chosen", clients=[acme.pk])
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="run-month-error"' in page
    assert f"Already being billed by run {first.pk}, started by ops@northwind.example" in page
    assert BillingRun.objects.count() == 1


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"scope": "chosen"}, "run-clients", "Choose at least one client, or bill every client."),
        ({"month": "October"}, "run-month", "Enter the month as year and month, like 2026-11."),
        ({"month": "2026-13"}, "run-month", "Enter the month as year and month, like 2026-11."),
        ({"month": "2027-01"}, "run-month", "Must not be after this month."),
        ({"scope": "chosen", "clients": ["999999"]}, "run-clients", "no longer exists"),
    ],
)
def test_a_refused_form_says_why_next_to_the_field(ops, acme, form, field, message):
    response = start(ops, **form)
    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="{field}-error"' in page and message in page
    assert not BillingRun.objects.exists()


def test_htmx_polls_the_progress_and_gets_the_result_when_the_run_is_done(ops, operator, acme):
    globex = make_client("globex", prices={"pick": "0.3500"})
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    add_events(globex, "storage_day", 4, day=date(2026, 10, 3))
    start(ops)
    run = BillingRun.objects.get()
    url = f"/console/billing/{run.pk}/"

    polled = ops.get(url, **HTMX)
    assert polled.status_code == 200
    assert "<html" not in polled.content.decode() and "0 of 2" in polled.content.decode()

    services.run_billing(run.pk)
    last = ops.get(url, **HTMX)
    assert last.status_code == 286  # htmx stops polling
    body = last.content.decode()
    assert "2 of 2</strong> clients billed" in body and "14</strong> events rated" in body
    assert 'id="run-result-slot" hx-swap-oob="true"' in body
    draft = BillingRunClient.objects.get(run=run, client=acme).invoice
    assert f'<a href="/console/drafts/{draft.pk}/">Draft #{draft.pk}</a>' in body
    assert "$3.50" in body
    assert "Storage day: 4 events" in body and "Nothing to bill" in body

    page = ops.get(url).content.decode()
    assert 'hx-trigger="every 1s"' not in page and "<noscript>" not in page
    assert "1 draft for 2 clients; 4 events had no price and went unrated." in page


def test_a_missing_run_is_a_404(ops, billing_run):
    assert ops.get(f"/console/billing/{billing_run.pk + 99}/").status_code == 404


def test_past_runs_are_listed_newest_first_a_page_at_a_time(ops, operator, acme, monkeypatch):
    monkeypatch.setattr(queries, "RUNS_LIMIT", 2)
    monkeypatch.setattr(queries.billing_runs, "__defaults__", (None, 2))
    runs = []
    for month in (date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)):
        run = services.start_billing_run(
            actor=operator, month=month, client_ids=None, today=date(2026, 11, 25)
        )
        runs.append(services.run_billing(run.pk))
    first = ops.get("/console/billing/").content.decode()
    assert first.index("September 2026") < first.index("August 2026")
    assert "July 2026" not in first and 'rel="next"' in first
    cursor = first.split('rel="next" href="?cursor=')[1].split('"')[0]
    second = ops.get(f"/console/billing/?cursor={cursor}").content.decode()
    assert "July 2026" in second and "September 2026" not in second
    assert 'rel="prev"' in second
