"""Every audit action is declared once, in `AuditAction`, and every change has an actor."""

import ast
from pathlib import Path

import pytest
from django.db import transaction

import tally
from tally.audit import services as audit
from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tests.factories import issued_invoice, make_user

pytestmark = pytest.mark.django_db

TALLY = Path(tally.__file__).parent


def _record_calls() -> list[tuple[str, int, ast.Call]]:
    """Every call of `record(...)` / `audit.record(...)` in Tally's code (the audit
    services are imported as `audit`, or `record` on its own)."""
    calls = []
    for path in sorted(TALLY.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            bare = isinstance(func, ast.Name) and func.id == "record"
            qualified = (
                isinstance(func, ast.Attribute)
                and func.attr == "record"
                and isinstance(func.value, ast.Name)
                and func.value.id == "audit"
            )
            if bare or qualified:
                calls.append((str(path.relative_to(TALLY)), node.lineno, node))
    return calls


def test_every_record_call_names_a_declared_action_or_passes_one_through():
    calls = _record_calls()
    assert len(calls) >= 20  # the scan finds the services' calls
    undeclared = []
    for where, line, call in calls:
        (action,) = [k.value for k in call.keywords if k.arg == "action"]
        declared = (
            isinstance(action, ast.Attribute)
            and isinstance(action.value, ast.Name)
            and action.value.id == "AuditAction"
            and action.attr in AuditAction.__members__
        )
        # A parameter typed AuditAction (reminders' `_change`), checked by mypy.
        passed_through = isinstance(action, ast.Name) and action.id == "action"
        if not (declared or passed_through):
            undeclared.append(f"{where}:{line}: {ast.unparse(action)}")
    assert undeclared == []


def test_an_undeclared_action_is_refused_and_nothing_is_written(acme):
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match="undeclared audit action 'invoice.teleported'"):
        with transaction.atomic():
            audit.record(actor=SystemActor.TESTS, action="invoice.teleported", obj=acme)  # type: ignore[arg-type]
    assert AuditEvent.objects.count() == before


def test_a_change_without_an_actor_is_refused_and_nothing_is_written(acme):
    before = AuditEvent.objects.count()
    with pytest.raises(TypeError, match="user or a SystemActor"):
        with transaction.atomic():
            audit.record(actor=None, action=AuditAction.CLIENT_CREATED, obj=acme)  # type: ignore[arg-type]
    assert AuditEvent.objects.count() == before


def test_a_user_is_stored_by_id_and_email_and_a_system_actor_by_its_label(acme):
    operator = make_user(email="ops@tally.test")
    with transaction.atomic():
        by_user = audit.record(actor=operator, action=AuditAction.CLIENT_CREATED, obj=acme)
        by_system = audit.record(
            actor=SystemActor.REMINDER_SENDER, action=AuditAction.CLIENT_CREATED, obj=acme
        )
    assert (by_user.actor_id, by_user.actor_label) == (operator.pk, "ops@tally.test")
    assert (by_system.actor_id, by_system.actor_label) == (None, "system:reminder-sender")


def test_every_stored_action_is_declared(acme):
    issued_invoice(acme, picks=3)
    stored = set(AuditEvent.objects.values_list("action", flat=True))
    assert stored and stored <= {a.value for a in AuditAction}
