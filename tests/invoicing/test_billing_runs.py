"""A month's billing run: the service that starts it, the worker's part client by client,
and the billing core's progress as it counts."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tally.errors import DomainError, NotFound
from tally.invoicing import services
from tally.invoicing.models import BillingRun, BillingRunClient, BillingRunStatus, Invoice
from tests.factories import (
    OCTOBER,
    add_events,
    assert_lines_total_their_events,
    generate,
    make_client,
    voided_invoice,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)
OCT = date(2026, 10, 1)


def start(operator, month=OCT, client_ids=None, today=TODAY):
    return services.start_billing_run(
        actor=operator, month=month, client_ids=client_ids, today=today
    )


def test_counting_ahead_tells_progress_and_bills_what_generation_alone_would(acme, globex):
    add_events(acme, "pick", 30, day=date(2026, 10, 3))
    add_events(acme, "pick", 20, day=date(2026, 10, 20))
    add_events(acme, "storage_day", 7, day=date(2026, 10, 9))
    told: list[int] = []
    billing = services.bill_period(
        actor=SystemActor.TESTS,
        client=acme,
        period_start=OCTOBER[0],
        period_end=OCTOBER[1],
        on_progress=told.append,
    )
    assert told and told == sorted(told) and told[-1] == 57
    assert [(line.kind, line.quantity) for line in billing.invoice.lines.order_by("kind")] == [
        ("pick", 50),
        ("storage_day", 7),
    ]
    assert_lines_total_their_events()


def test_a_huge_client_is_counted_in_slices_each_followed_by_progress(acme, monkeypatch):
    # Every read "too slow": slices halve down to ten minutes, each one a progress call.
    monkeypatch.setattr(services, "SLICE_TARGET", -1.0)
    add_events(acme, "pick", 40, day=date(2026, 10, 3))
    add_events(acme, "pick", 40, day=date(2026, 10, 30))
    told: list[int] = []
    services.bill_period(
        actor=SystemActor.TESTS,
        client=acme,
        period_start=OCTOBER[0],
        period_end=OCTOBER[1],
        on_progress=told.append,
    )
    assert len(told) > 31 * 4  # at least one read per six hours of the month
    assert told[-1] == 80 and 40 in told


DAY = timedelta(days=1)


def test_the_next_slice_reads_in_the_target_time_at_the_last_reads_rate(monkeypatch):
    monkeypatch.setattr(services, "SLICE_TARGET", 0.5)
    # A day read in 1 s (a loaded machine): half a day next; in 0.25 s: two days.
    assert services.next_slice(DAY, DAY, 1.0) == DAY / 2
    assert services.next_slice(DAY, DAY, 0.25) == 2 * DAY
    # Eight times slower at once (the machine got busy): an eighth, not a halving per read.
    assert services.next_slice(4 * DAY, 4 * DAY, 4.0) == DAY / 2
    # The rate is the read's, even when the block's end cut it short of the plan.
    assert services.next_slice(4 * DAY, DAY / 4, 0.125) == DAY


def test_a_slice_grows_at_most_four_times_and_never_below_ten_minutes(monkeypatch):
    monkeypatch.setattr(services, "SLICE_TARGET", 0.5)
    assert services.next_slice(DAY, DAY, 0.001) == 4 * DAY  # a quiet night: not 500 days
    assert services.next_slice(DAY, DAY / 24, 0.001) == 4 * DAY  # capped by the plan
    assert services.next_slice(DAY, DAY, 0.0) == 4 * DAY
    assert services.next_slice(DAY, DAY, 3600.0) == timedelta(minutes=10)


def test_slices_follow_the_reads_rate_as_a_client_is_counted(acme, monkeypatch):
    # Each read "takes" a second per day of events it covers, from a clock moved by the
    # reads themselves: after the first day the slices are half a day, every read then
    # takes the target, and progress is told after each.
    monkeypatch.setattr(services, "SLICE_TARGET", 0.5)
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    now = [0.0]
    spans: list[timedelta] = []
    count = services.count_block_events

    def timed(cursor, client, block, kinds):
        spans.append(block.end - block.start)
        now[0] += (block.end - block.start) / DAY
        return count(cursor, client, block, kinds)

    monkeypatch.setattr(services, "count_block_events", timed)
    monkeypatch.setattr(services, "clock", SimpleNamespace(perf_counter=lambda: now[0]))
    told: list[int] = []
    ahead = services._count_ahead(acme, *OCTOBER, on_progress=told.append)
    assert spans[0] == DAY and set(spans[1:-1]) == {DAY / 2}
    assert sum(spans, timedelta()) == 31 * DAY
    assert len(told) == len(spans) and told[-1] == 10
    assert sum(n for totals in ahead.counts.values() for n, _ in totals.values()) == 10


def test_events_billed_between_counting_and_drafting_are_not_billed_twice(acme):
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    ahead = services._count_ahead(acme, *OCTOBER, on_progress=lambda n: None)
    first = generate(acme).invoice  # another run bills them meanwhile
    late = services._keep_if_billed(SystemActor.TESTS, acme, *OCTOBER, ahead)
    assert late.invoice is None
    assert first.lines.get().quantity == 10
    assert_lines_total_their_events()


def test_events_freed_by_a_void_between_counting_and_drafting_are_counted_again(acme):
    void = voided_invoice(acme, picks=10)
    ahead = services._count_ahead(acme, *OCTOBER, on_progress=lambda n: None)
    add_events(acme, "pick", 5, day=date(2026, 10, 8))  # above the counted watermark
    billing = services._keep_if_billed(SystemActor.TESTS, acme, *OCTOBER, ahead)
    assert billing.invoice.lines.get().quantity == 10  # the late five wait for the next run
    assert void.pk != billing.invoice.pk
    assert_lines_total_their_events()


def test_a_run_bills_each_chosen_client_once_and_reports_what_went_unrated(operator, acme):
    globex = make_client("globex", prices={"pick": "0.3500"})  # no storage price
    idle = make_client("idle")
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    add_events(globex, "pick", 4, day=date(2026, 10, 3))
    add_events(globex, "storage_day", 3, day=date(2026, 10, 4))
    run = start(operator)
    assert (run.status, run.clients_total, run.all_clients) == ("queued", 3, True)
    assert run.task_id

    run = services.run_billing(run.pk)

    assert (run.status, run.clients_done, run.drafts, run.events_rated) == ("done", 3, 2, 17)
    assert run.started_at <= run.finished_at
    entries = {e.client_id: e for e in BillingRunClient.objects.filter(run=run)}
    assert entries[acme.pk].invoice.total_minor == entries[acme.pk].total_minor == 350
    assert entries[globex.pk].unrated == [{"kind": "storage_day", "events": 3, "quantity": 3}]
    assert entries[idle.pk].invoice is None and entries[idle.pk].done
    assert entries[idle.pk].events == 0
    actions = list(
        AuditEvent.objects.filter(object_type="invoicing.billingrun").values_list(
            "action", "actor_label"
        )
    )
    assert actions == [
        (AuditAction.BILLING_RUN_STARTED, operator.email),
        (AuditAction.BILLING_RUN_FINISHED, operator.email),
    ]
    # The drafts are the operator's, as if made by hand.
    assert (
        AuditEvent.objects.get(
            action=AuditAction.INVOICE_GENERATED, object_id=str(entries[acme.pk].invoice_ref)
        ).actor_label
        == operator.email
    )


def test_running_a_run_again_makes_no_second_draft(operator, acme, globex):
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    add_events(globex, "pick", 10, day=date(2026, 10, 3))
    run = start(operator)
    services.run_billing(run.pk)
    # As a retry would find it: the run put back to running, nothing else changed.
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING)
    services.run_billing(run.pk)
    assert Invoice.objects.count() == 2
    assert BillingRun.objects.get(pk=run.pk).drafts == 2


def test_a_retry_after_a_failure_midway_bills_only_the_clients_left(
    operator, acme, globex, monkeypatch
):
    add_events(acme, "pick", 10, day=date(2026, 10, 3))
    add_events(globex, "pick", 10, day=date(2026, 10, 3))
    run = start(operator)
    real = services._keep_if_billed

    def fail_on_globex(actor, client, *args):
        if client.pk == globex.pk:
            raise OSError("the database went away")
        return real(actor, client, *args)

    monkeypatch.setattr(services, "_keep_if_billed", fail_on_globex)
    with pytest.raises(OSError):
        services.run_billing(run.pk)
    run.refresh_from_db()
    assert (run.status, run.clients_done, run.drafts) == ("running", 1, 1)

    monkeypatch.setattr(services, "_keep_if_billed", real)
    run = services.run_billing(run.pk)
    assert (run.status, run.clients_done, run.drafts) == ("done", 2, 2)
    assert Invoice.objects.filter(client=acme).count() == 1
    assert Invoice.objects.filter(client=globex).count() == 1


def test_a_second_run_of_a_month_under_way_is_refused_with_the_run_named(operator, acme):
    first = start(operator)
    with pytest.raises(DomainError) as refused:
        start(operator, client_ids=[acme.pk])
    assert refused.value.code == "billing_run_under_way"
    assert f"run {first.pk}" in refused.value.message
    assert [p.field for p in refused.value.problems] == ["month"]
    # Another month, or the same once the first is done, is fine.
    assert start(operator, month=date(2026, 9, 1)).status == "queued"
    services.run_billing(first.pk)
    assert start(operator).pk != first.pk


def test_a_run_the_worker_gave_up_on_no_longer_blocks_its_month(operator, acme):
    from django_tasks_db.models import DBTaskResult

    first = start(operator)
    DBTaskResult.objects.filter(pk=first.task_id).update(status="FAILED")
    second = start(operator)
    first.refresh_from_db()
    assert first.status == "failed" and second.status == "queued"


def test_a_month_not_started_no_client_and_an_unknown_client_are_refused(operator, acme):
    with pytest.raises(DomainError) as future:
        start(operator, month=date(2026, 12, 1))
    assert future.value.code == "month_not_started"
    with pytest.raises(DomainError) as empty:
        start(operator, client_ids=[])
    assert [p.field for p in empty.value.problems] == ["clients"]
    with pytest.raises(NotFound):
        start(operator, client_ids=[acme.pk, 999_999])
    assert not BillingRun.objects.exists()


def test_the_worker_giving_up_marks_the_run_failed(operator, acme):
    run = start(operator)
    services.fail_billing_run(run.pk, "OSError: disk full")
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "OSError: disk full")
    assert services.run_billing(run.pk).status == "failed"  # a late try does nothing
