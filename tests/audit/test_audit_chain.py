import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from tally.audit import guard
from tally.audit.actors import SystemActor
from tally.audit.models import AuditEvent
from tally.audit.queries import verify_chain
from tests.factories import issued_invoice

pytestmark = pytest.mark.django_db


def test_every_state_change_is_audited(acme):
    invoice = issued_invoice(acme, picks=3)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[:2] == ["client.created", "rate_card.created"]
    assert actions[-3:] == ["events.ingested", "invoice.generated", "invoice.issued"]
    issued = AuditEvent.objects.get(action="invoice.issued")
    assert issued.object_id == str(invoice.pk) and issued.client_id == acme.pk
    assert '"status":"open"' in issued.data and '"status":"draft"' in issued.data


def test_the_chain_verifies_when_untouched(acme):
    issued_invoice(acme)
    report = verify_chain()
    assert report.ok and report.checked == AuditEvent.objects.count() > 3


def test_the_database_refuses_to_edit_or_delete_audit_rows(acme):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(id=1).update(action="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(id=1).delete()


def _tamper(sql, params):
    guard.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_row_changed_behind_the_applications_back_is_named(acme):
    issued_invoice(acme)
    _tamper(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"before":null,"after":{}}', 2]
    )
    report = verify_chain()
    assert not report.ok and report.first_broken_id == 2
    with pytest.raises(CommandError, match="broken at row 2"):
        call_command("verify_audit")


def test_a_deleted_row_is_named(acme):
    issued_invoice(acme)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [3])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == 3 and "missing" in report.problem


def test_deleting_the_last_row_is_detected(acme):
    issued_invoice(acme)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [last])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == last


def test_a_change_is_recorded_before_what_it_brings_about(acme):
    from tally.actions.invoices import create_credit_note, void_invoice

    def actions_since(mark):
        return list(
            AuditEvent.objects.filter(id__gt=mark).order_by("id").values_list("action", flat=True)
        )

    voided = issued_invoice(acme, picks=3)
    mark = AuditEvent.objects.latest("id").id
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=voided.pk, reason="billed twice")
    assert actions_since(mark) == ["invoice.voided", "reminders.skipped"]

    credited = issued_invoice(acme, picks=10)  # with the voided invoice's events again
    mark = AuditEvent.objects.latest("id").id
    create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=credited.pk,
        amount_minor=credited.total_minor,
        reason="goodwill",
    )
    assert actions_since(mark) == [
        "credit_note.created",
        "invoice.credited",
        "invoice.paid",
        "reminders.skipped",
    ]
    assert verify_chain().ok
