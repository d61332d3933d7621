from datetime import date

import pytest

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.actions.invoices import create_credit_note, void_invoice
from tally.audit.actors import SystemActor
from tally.audit.models import AuditEvent
from tally.disputes import services
from tally.disputes.models import (
    AuthorSide,
    Dispute,
    DisputeLine,
    DisputeMessage,
    DisputeStatus,
    Resolution,
)
from tally.disputes.queries import dispute_detail, list_disputes, open_disputes
from tally.disputes.services import open_dispute, post_dispute_message, withdraw_dispute
from tally.errors import DomainError, NotFound
from tally.invoicing.models import CreditNote, InvoiceStatus
from tests.factories import draft_invoice, issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


def written():
    """Everything a dispute service could write, counted."""
    return (
        Dispute.objects.count(),
        DisputeLine.objects.count(),
        DisputeMessage.objects.count(),
        CreditNote.objects.count(),
        AuditEvent.objects.count(),
    )


def line_of(invoice, kind):
    return invoice.lines.get(kind=kind)


def refused(code, fn, **kw):
    """Call a service expecting a refusal with `code`; assert nothing was written."""
    before = written()
    with pytest.raises(DomainError) as err:
        fn(**kw)
    assert err.value.code == code, str(err.value)
    assert written() == before
    return err.value


def open_on(invoice, actor, **kw):
    kw.setdefault("reason", "Too many picks")
    return open_dispute(actor=actor, client=invoice.client, invoice_id=invoice.pk, **kw)


def resolve(dispute, actor, **kw):
    """`resolve_dispute` on `dispute`, for its own client unless `client=` says otherwise."""
    kw.setdefault("client", dispute.client)
    return resolve_dispute(actor=actor, dispute_id=dispute.pk, **kw)


def post(dispute, actor, **kw):
    kw.setdefault("client", dispute.client)
    return post_dispute_message(actor=actor, dispute_id=dispute.pk, **kw)


def withdraw(dispute, actor, **kw):
    kw.setdefault("client", dispute.client)
    return withdraw_dispute(actor=actor, dispute_id=dispute.pk, **kw)


def actions_for(obj):
    return list(
        AuditEvent.objects.filter(
            object_type=obj._meta.label_lower, object_id=str(obj.pk)
        ).values_list("action", flat=True)
    )


# Opening -----------------------------------------------------------------------------


def test_a_client_user_opens_a_dispute_and_its_reason_starts_the_conversation(invoice, acme_user):
    dispute = open_on(invoice, acme_user, reason="  We never ordered these labels  ")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN and dispute.resolution == ""
    assert (dispute.client_id, dispute.invoice_id) == (invoice.client_id, invoice.pk)
    assert dispute.reason == "We never ordered these labels"
    assert dispute.amount_minor is None and dispute.opened_by == acme_user
    assert not dispute.lines.exists()
    [first] = dispute.messages.all()
    assert (first.body, first.author, first.author_side, first.client_id) == (
        "We never ordered these labels",
        acme_user,
        AuthorSide.CLIENT,
        invoice.client_id,
    )
    event = AuditEvent.objects.get(action="dispute.opened")
    assert (event.object_id, event.client_id, event.actor_id) == (
        str(dispute.pk),
        invoice.client_id,
        acme_user.pk,
    )


def test_a_dispute_on_chosen_lines_records_them_and_may_claim_up_to_their_sum(invoice, acme_user):
    labels = line_of(invoice, "label")
    assert labels.amount_minor == 450
    dispute = open_on(invoice, acme_user, line_ids=[labels.pk, labels.pk], amount_minor=450)
    assert dispute.amount_minor == 450
    assert list(
        DisputeLine.objects.filter(dispute=dispute).values_list("line_id", "client_id")
    ) == [(labels.pk, invoice.client_id)]


def test_an_amount_above_the_chosen_lines_is_refused_even_when_the_invoice_total_allows_it(
    invoice, acme_user
):
    labels = line_of(invoice, "label")
    err = refused(
        "invalid_dispute",
        open_on,
        invoice=invoice,
        actor=acme_user,
        line_ids=[labels.pk],
        amount_minor=451,
    )
    assert [p.field for p in err.problems] == ["amount"]
    assert "$4.50" in err.problems[0].message


def test_an_amount_above_the_invoice_total_is_refused_and_nothing_is_written(invoice, acme_user):
    assert invoice.total_minor == 800
    err = refused("invalid_dispute", open_on, invoice=invoice, actor=acme_user, amount_minor=801)
    assert [p.field for p in err.problems] == ["amount"]
    open_on(invoice, acme_user, amount_minor=800)  # the whole total is fine


@pytest.mark.parametrize("amount", [0, -5])
def test_an_amount_must_be_positive(invoice, acme_user, amount):
    err = refused("invalid_dispute", open_on, invoice=invoice, actor=acme_user, amount_minor=amount)
    assert [p.field for p in err.problems] == ["amount"]


@pytest.mark.parametrize("reason", ["", "   \n", "x" * 10_001])
def test_a_reason_is_required_and_bounded(invoice, acme_user, reason):
    err = refused("invalid_dispute", open_on, invoice=invoice, actor=acme_user, reason=reason)
    assert [p.field for p in err.problems] == ["reason"]


def test_a_line_of_another_invoice_is_not_found(acme, invoice, acme_user):
    other = issued_invoice(acme, picks=3, period=(date(2026, 9, 1), date(2026, 9, 30)))
    err = refused(
        "not_found",
        open_on,
        invoice=invoice,
        actor=acme_user,
        line_ids=[line_of(invoice, "pick").pk, line_of(other, "pick").pk],
    )
    assert isinstance(err, NotFound) and err.message == "line not found"


def test_another_clients_invoice_answers_exactly_like_a_missing_one(
    invoice, globex, globex_user, acme_user
):
    missing = refused(
        "not_found",
        open_dispute,
        actor=globex_user,
        client=globex,
        invoice_id=invoice.pk + 1000,
        reason="x",
    )
    # Globex names its own client but Acme's invoice id.
    foreign = refused(
        "not_found",
        open_dispute,
        actor=globex_user,
        client=globex,
        invoice_id=invoice.pk,
        reason="x",
    )
    # Globex's user claims to act for Acme.
    impersonating = refused(
        "not_found",
        open_dispute,
        actor=globex_user,
        client=invoice.client,
        invoice_id=invoice.pk,
        reason="x",
    )
    assert str(missing) == str(foreign) == str(impersonating) == "not_found: invoice not found"


def test_a_draft_cannot_be_disputed_and_a_client_cannot_even_see_it(acme, operator, acme_user):
    draft = draft_invoice(acme, picks=3)
    refused("invoice_not_issued", open_on, invoice=draft, actor=operator)
    refused("not_found", open_on, invoice=draft, actor=acme_user)


def test_a_void_invoice_cannot_be_disputed(invoice, operator, acme_user):
    void_invoice(actor=operator, client=invoice.client, invoice_id=invoice.pk, reason="Wrong")
    err = refused("invoice_not_disputable", open_on, invoice=invoice, actor=acme_user)
    assert "void" in err.message


def test_a_paid_invoice_can_still_be_disputed(invoice, acme_user):
    pay(invoice.client, 800, invoice=invoice, method="wire")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert open_on(invoice, acme_user).status == DisputeStatus.OPEN


def test_an_operator_may_open_a_dispute_on_behalf_of_the_client(invoice, operator):
    dispute = open_on(invoice, operator, reason="Client called about the labels")
    assert dispute.opened_by == operator
    assert dispute.messages.get().author_side == AuthorSide.OPERATOR


def test_a_second_open_dispute_on_the_same_invoice_is_refused(invoice, acme_user, operator):
    first = open_on(invoice, acme_user)
    refused("dispute_already_open", open_on, invoice=invoice, actor=acme_user, reason="Again")
    withdraw_dispute(actor=acme_user, client=invoice.client, dispute_id=first.pk)
    second = open_on(invoice, acme_user, reason="Something else now")
    assert second.pk != first.pk
    assert Dispute.objects.filter(invoice=invoice).count() == 2


def test_losing_the_race_on_the_unique_constraint_is_the_same_clean_refusal(
    invoice, acme_user, monkeypatch
):
    """Two requests pass the check at once: the database constraint decides, cleanly."""
    open_on(invoice, acme_user)
    real = services._open_dispute_exists
    calls = []

    def blind_first_time(invoice_id):
        calls.append(invoice_id)
        return False if len(calls) == 1 else real(invoice_id)

    monkeypatch.setattr(services, "_open_dispute_exists", blind_first_time)
    refused("dispute_already_open", open_on, invoice=invoice, actor=acme_user, reason="Again")
    assert len(calls) == 2  # the check was passed, the insert hit the constraint


def test_an_open_dispute_blocks_voiding_the_invoice(invoice, acme_user, operator):
    open_on(invoice, acme_user)
    with pytest.raises(DomainError) as err:
        void_invoice(actor=operator, client=invoice.client, invoice_id=invoice.pk, reason="x")
    assert err.value.code == "invoice_disputed"


def test_a_user_without_an_account_cannot_open_a_dispute(invoice, acme_user):
    refused("forbidden", open_on, invoice=invoice, actor=SystemActor.TESTS)
    acme_user.is_active = False
    acme_user.save()
    refused("forbidden", open_on, invoice=invoice, actor=acme_user)


# The conversation ------------------------------------------------------------------------


def test_the_conversation_keeps_both_sides_in_order(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user, reason="Labels look doubled")
    client = invoice.client
    post(dispute, operator, client=client, body="Checking the manifests.")
    colleague = make_user(Role.CLIENT_USER, client=client)
    post(dispute, colleague, client=client, body=" Orders 12-15 were cancelled ")
    detail = dispute_detail(dispute.pk)
    assert detail is not None
    assert [(m.author_side, m.author_email, m.body) for m in detail.messages] == [
        ("client", acme_user.email, "Labels look doubled"),
        ("operator", operator.email, "Checking the manifests."),
        ("client", colleague.email, "Orders 12-15 were cancelled"),
    ]
    assert detail.summary.message_count == 3 and detail.summary.awaiting_operator
    assert actions_for(DisputeMessage.objects.last()) == ["dispute.message_posted"]
    assert AuditEvent.objects.filter(action="dispute.message_posted").count() == 2


@pytest.mark.parametrize("body", ["", "  ", "x" * 10_001])
def test_a_message_needs_a_body_of_bounded_length(invoice, acme_user, body):
    dispute = open_on(invoice, acme_user)
    err = refused("invalid_message", post, dispute=dispute, actor=acme_user, body=body)
    assert [p.field for p in err.problems] == ["body"]


def test_another_client_cannot_post_in_a_dispute(invoice, acme_user, globex, globex_user):
    dispute = open_on(invoice, acme_user)
    for client in (globex, invoice.client):
        err = refused(
            "not_found", post, dispute=dispute, actor=globex_user, client=client, body="Let me in"
        )
        assert err.message == "dispute not found"


def test_posting_after_resolution_is_refused(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    resolve(dispute, operator, resolution="upheld", summary="Charges are correct.")
    for actor in (acme_user, operator):
        refused("dispute_resolved", post, dispute=dispute, actor=actor, body="But wait")


# Resolution -------------------------------------------------------------------------------


def test_a_credited_resolution_issues_a_credit_note_and_reduces_the_balance(
    invoice, acme_user, operator
):
    dispute = open_on(invoice, acme_user, amount_minor=450, line_ids=[line_of(invoice, "label").pk])
    resolved = resolve(
        dispute,
        operator,
        resolution="credited",
        summary="Duplicate labels credited.",
        credit_amount_minor=300,
        credit_reason="Duplicate labels on 4 October",
    )
    resolved.refresh_from_db()
    invoice.refresh_from_db()
    note = CreditNote.objects.get(invoice=invoice)
    assert resolved.credit_note == note
    assert (note.amount_minor, note.reason, note.created_by) == (
        300,
        "Duplicate labels on 4 October",
        operator,
    )
    assert (invoice.credited_minor, invoice.balance_minor) == (300, 500)
    assert (resolved.status, resolved.resolution, resolved.resolution_summary) == (
        DisputeStatus.RESOLVED,
        Resolution.CREDITED,
        "Duplicate labels credited.",
    )
    assert resolved.resolved_by == operator and resolved.resolved_at is not None
    assert actions_for(resolved) == ["dispute.opened", "dispute.resolved"]
    assert actions_for(note) == ["credit_note.created"]
    assert "invoice.credited" in actions_for(invoice)
    detail = dispute_detail(dispute.pk)
    assert detail is not None
    assert (detail.credit_note_id, detail.credit_note_amount_minor) == (note.pk, 300)


def test_the_credit_note_reason_defaults_to_the_summary(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    resolve(
        dispute,
        operator,
        resolution="credited",
        summary="Goodwill credit for the late pickups.",
        credit_amount_minor=800,
    )
    invoice.refresh_from_db()
    assert CreditNote.objects.get().reason == "Goodwill credit for the late pickups."
    assert invoice.balance_minor == 0 and invoice.status == InvoiceStatus.PAID


def test_crediting_needs_an_amount(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    for amount in (None, 0, -1):
        err = refused(
            "invalid_resolution",
            resolve,
            dispute=dispute,
            actor=operator,
            resolution="credited",
            summary="Credited.",
            credit_amount_minor=amount,
        )
        assert [p.field for p in err.problems] == ["credit_amount"]


def test_a_credit_above_what_is_left_to_credit_is_refused_and_the_dispute_stays_open(
    invoice, acme_user, operator
):
    create_credit_note(
        actor=operator, client=invoice.client, invoice_id=invoice.pk, amount_minor=700, reason="x"
    )
    dispute = open_on(invoice, acme_user)
    refused(
        "credit_exceeds_invoice",
        resolve,
        dispute=dispute,
        actor=operator,
        resolution="credited",
        summary="Credited.",
        credit_amount_minor=101,
    )
    dispute.refresh_from_db()
    invoice.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN and dispute.credit_note is None
    assert invoice.balance_minor == 100


def test_an_upheld_charge_leaves_the_balance_alone(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user, amount_minor=100)
    resolved = resolve(
        dispute,
        operator,
        resolution="upheld",
        summary="The labels were printed and shipped; manifests attached.",
    )
    invoice.refresh_from_db()
    assert (invoice.credited_minor, invoice.balance_minor) == (0, 800)
    assert resolved.resolution == Resolution.UPHELD and resolved.credit_note is None
    assert not CreditNote.objects.exists()
    assert actions_for(resolved) == ["dispute.opened", "dispute.resolved"]


def test_only_a_credited_resolution_carries_a_credit(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    err = refused(
        "invalid_resolution",
        resolve,
        dispute=dispute,
        actor=operator,
        resolution="upheld",
        summary="Upheld.",
        credit_amount_minor=100,
    )
    assert [p.field for p in err.problems] == ["credit_amount"]


@pytest.mark.parametrize(
    ("resolution", "summary", "fields"),
    [
        ("refunded", "ok", ["resolution"]),
        ("upheld", " ", ["summary"]),
        ("", "", ["resolution", "summary"]),
    ],
)
def test_a_resolution_needs_a_known_outcome_and_a_summary(
    invoice, acme_user, operator, resolution, summary, fields
):
    dispute = open_on(invoice, acme_user)
    err = refused(
        "invalid_resolution",
        resolve,
        dispute=dispute,
        actor=operator,
        resolution=resolution,
        summary=summary,
    )
    assert [p.field for p in err.problems] == fields


def test_an_operator_may_record_a_withdrawal(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    resolved = resolve(
        dispute, operator, resolution="withdrawn", summary="Client withdrew by phone."
    )
    assert (resolved.resolution, resolved.resolution_summary) == (
        Resolution.WITHDRAWN,
        "Client withdrew by phone.",
    )


def test_a_client_user_cannot_resolve_but_can_withdraw_their_dispute(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    for resolution in ("credited", "upheld", "withdrawn"):
        refused(
            "forbidden",
            resolve,
            dispute=dispute,
            actor=acme_user,
            resolution=resolution,
            summary="Self-service",
            credit_amount_minor=800 if resolution == "credited" else None,
        )
    withdrawn = withdraw(dispute, acme_user)
    withdrawn.refresh_from_db()
    assert (withdrawn.status, withdrawn.resolution, withdrawn.resolution_summary) == (
        DisputeStatus.RESOLVED,
        Resolution.WITHDRAWN,
        "Withdrawn by the client.",
    )
    assert withdrawn.resolved_by == acme_user
    assert actions_for(withdrawn) == ["dispute.opened", "dispute.withdrawn"]
    invoice.refresh_from_db()
    assert invoice.balance_minor == 800


def test_another_client_cannot_withdraw_or_resolve_a_dispute(
    invoice, acme_user, globex, globex_user
):
    dispute = open_on(invoice, acme_user)
    for client in (globex, invoice.client):
        refused("not_found", withdraw, dispute=dispute, actor=globex_user, client=client)
        refused(
            "not_found",
            resolve,
            dispute=dispute,
            actor=globex_user,
            client=client,
            resolution="withdrawn",
            summary="x",
        )


def test_an_operator_naming_the_wrong_client_gets_not_found(invoice, acme_user, operator, globex):
    dispute = open_on(invoice, acme_user)
    refused(
        "not_found",
        resolve,
        dispute=dispute,
        actor=operator,
        client=globex,
        resolution="upheld",
        summary="x",
    )


def test_a_resolved_dispute_cannot_be_resolved_or_withdrawn_again(invoice, acme_user, operator):
    dispute = open_on(invoice, acme_user)
    withdraw(dispute, acme_user, summary="Found it")
    refused("dispute_resolved", withdraw, dispute=dispute, actor=acme_user)
    refused(
        "dispute_resolved",
        resolve,
        dispute=dispute,
        actor=operator,
        resolution="credited",
        summary="Credited",
        credit_amount_minor=100,
    )
    dispute.refresh_from_db()
    assert dispute.resolution_summary == "Found it"


def test_every_state_change_of_a_dispute_is_audited(invoice, acme_user, operator):
    start = AuditEvent.objects.count()
    dispute = open_on(invoice, acme_user, amount_minor=200)
    post(dispute, operator, body="On it")
    post(dispute, acme_user, body="Thanks")
    resolve(
        dispute, operator, resolution="credited", summary="Credited 2.00", credit_amount_minor=200
    )
    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id"))
    assert [(e.action, e.actor_id) for e in events] == [
        ("dispute.opened", acme_user.pk),
        ("dispute.message_posted", operator.pk),
        ("dispute.message_posted", acme_user.pk),
        ("credit_note.created", operator.pk),
        ("invoice.credited", operator.pk),
        ("dispute.resolved", operator.pk),
    ]
    assert {e.client_id for e in events} == {invoice.client_id}
    resolved = events[-1]
    assert '"before":{' in resolved.data and '"resolution":"credited"' in resolved.data


# Operator queries ----------------------------------------------------------------------------


def test_the_operator_queue_lists_open_disputes_oldest_first_across_clients(
    invoice, acme_user, globex, globex_user, operator
):
    acme_dispute = open_on(invoice, acme_user, amount_minor=100)
    globex_invoice = issued_invoice(globex, picks=4)
    globex_dispute = open_on(globex_invoice, globex_user)
    post_dispute_message(
        actor=operator, client=globex, dispute_id=globex_dispute.pk, body="Looking into it"
    )
    queue = open_disputes()
    assert [d.id for d in queue] == [acme_dispute.pk, globex_dispute.pk]
    assert [d.awaiting_operator for d in queue] == [True, False]
    first = queue[0]
    assert (first.client_code, first.invoice_number, first.currency, first.amount_minor) == (
        "acme",
        invoice.display_number,
        "USD",
        100,
    )
    assert [d.id for d in open_disputes(client_id=globex.pk)] == [globex_dispute.pk]
    withdraw_dispute(actor=acme_user, client=invoice.client, dispute_id=acme_dispute.pk)
    assert [d.id for d in open_disputes()] == [globex_dispute.pk]
    resolved = list_disputes(status=DisputeStatus.RESOLVED)
    assert [(d.id, d.resolution) for d in resolved] == [(acme_dispute.pk, "withdrawn")]


def test_dispute_detail_lists_the_contested_lines(invoice, acme_user):
    picks, labels = line_of(invoice, "pick"), line_of(invoice, "label")
    dispute = open_on(invoice, acme_user, line_ids=[labels.pk, picks.pk])
    detail = dispute_detail(dispute.pk)
    assert detail is not None
    assert [(ln.line_id, ln.unit_price_micros, ln.amount_minor) for ln in detail.lines] == [
        (labels.pk, 45_000, 450),  # in the invoice's order (labels, then picks)
        (picks.pk, 350_000, 350),
    ]
    assert dispute_detail(dispute.pk + 1000) is None
