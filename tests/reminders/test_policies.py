import importlib
from datetime import date

import pytest
from django.apps import apps

from tally.audit.actors import SystemActor
from tally.audit.models import AuditEvent
from tally.errors import DomainError
from tally.reminders.models import Reminder, ReminderPolicy
from tally.reminders.services import (
    create_reminder_policy,
    set_client_reminder_policy,
    update_reminder_policy,
)
from tests.factories import issued_invoice

pytestmark = pytest.mark.django_db


def refused(**kwargs):
    kwargs = {"actor": None, "name": "Firm", "offsets_days": [0, 7], **kwargs}
    before = ReminderPolicy.objects.count()
    with pytest.raises(DomainError) as err:
        create_reminder_policy(**kwargs)
    assert ReminderPolicy.objects.count() == before
    assert err.value.code == "invalid_reminder_policy"
    return [(p.field, p.message) for p in err.value.problems]


def test_policy_validation_names_the_field_and_the_bad_step(db):
    assert refused(offsets_days=[]) == [("offsets_days", "needs at least one step")]
    assert refused(offsets_days=[0, 7, 7]) == [("offsets_days", "step 3: 7 appears twice")]
    assert refused(offsets_days=[-61, 366]) == [
        ("offsets_days", "step 1: -61 is outside -60..365 days"),
        ("offsets_days", "step 2: 366 is outside -60..365 days"),
    ]
    assert refused(offsets_days=["7", 1.5, True]) == [
        ("offsets_days", "step 1: '7' is not a whole number of days"),
        ("offsets_days", "step 2: 1.5 is not a whole number of days"),
        ("offsets_days", "step 3: True is not a whole number of days"),
    ]
    assert refused(offsets_days="0,7") == [("offsets_days", "must be a list of whole days")]
    assert refused(name="  ") == [("name", "is required")]
    create_reminder_policy(actor=SystemActor.TESTS, name="Firm", offsets_days=[0])
    assert refused(name="Firm") == [("name", "a policy named 'Firm' exists")]
    # The edges are allowed.
    policy = create_reminder_policy(actor=SystemActor.TESTS, name="Wide", offsets_days=[365, -60])
    assert policy.offsets_days == [-60, 365]


def test_the_migration_makes_standard_the_default_policy(db):
    migration = importlib.import_module("tally.reminders.migrations.0002_standard_policy")
    ReminderPolicy.objects.filter(name="Standard").delete()
    ReminderPolicy.objects.update(is_default=False)
    migration.create_standard_policy(apps, None)
    standard = ReminderPolicy.objects.get(name="Standard")
    assert (standard.offsets_days, standard.is_default) == ([-3, 0, 7, 14, 30], True)
    migration.create_standard_policy(apps, None)  # running again changes nothing
    assert ReminderPolicy.objects.filter(name="Standard").count() == 1


def test_a_new_default_policy_takes_over_from_the_old_one_and_both_changes_are_audited(db):
    old = ReminderPolicy.objects.filter(is_default=True).first() or create_reminder_policy(
        actor=SystemActor.TESTS, name="Old default", offsets_days=[0], is_default=True
    )
    new = create_reminder_policy(
        actor=SystemActor.TESTS, name="Strict", offsets_days=[14, -7, 0], is_default=True
    )
    old.refresh_from_db()
    assert (old.is_default, new.is_default, new.offsets_days) == (False, True, [-7, 0, 14])
    assert list(ReminderPolicy.objects.filter(is_default=True)) == [new]
    created = AuditEvent.objects.get(action="reminder_policy.created", object_id=str(new.pk))
    assert '"offsets_days":[-7,0,14]' in created.data
    assert AuditEvent.objects.filter(
        action="reminder_policy.updated", object_id=str(old.pk)
    ).exists()
    with pytest.raises(DomainError) as err:
        update_reminder_policy(actor=SystemActor.TESTS, policy=new, is_default=False)
    assert err.value.problems[0].field == "is_default"


def test_updating_a_policy_validates_like_creating_one(db):
    policy = create_reminder_policy(actor=SystemActor.TESTS, name="Gentle", offsets_days=[0, 10])
    with pytest.raises(DomainError) as err:
        update_reminder_policy(actor=SystemActor.TESTS, policy=policy, offsets_days=[0, 400])
    assert [p.field for p in err.value.problems] == ["offsets_days"]
    update_reminder_policy(
        actor=SystemActor.TESTS, policy=policy, offsets_days=[21, 0], name="Gentler"
    )
    policy.refresh_from_db()
    assert (policy.name, policy.offsets_days) == ("Gentler", [0, 21])
    event = AuditEvent.objects.filter(action="reminder_policy.updated").latest("id")
    assert '"name":"Gentle"' in event.data and '"name":"Gentler"' in event.data


def test_a_clients_own_policy_shapes_the_schedule_of_its_next_invoices(acme, globex):
    gentle = create_reminder_policy(actor=SystemActor.TESTS, name="Gentle", offsets_days=[0, 10])
    set_client_reminder_policy(actor=SystemActor.TESTS, client=acme, policy=gentle)

    acme_invoice = issued_invoice(acme)
    globex_invoice = issued_invoice(globex)

    assert list(
        Reminder.objects.filter(invoice=acme_invoice).values_list("offset_days", "scheduled_for")
    ) == [(0, date(2026, 12, 1)), (10, date(2026, 12, 11))]
    assert list(
        Reminder.objects.filter(invoice=globex_invoice).values_list("offset_days", flat=True)
    ) == [-3, 0, 7, 14, 30]
    event = AuditEvent.objects.get(action="client.reminder_policy_set")
    assert event.client_id == acme.pk and '"reminder_policy":"Gentle"' in event.data

    # Back to the default: the next invoice follows it; the earlier schedule is kept.
    set_client_reminder_policy(actor=SystemActor.TESTS, client=acme, policy=None)
    later = issued_invoice(acme, period=(date(2026, 9, 1), date(2026, 9, 30)))
    assert list(Reminder.objects.filter(invoice=later).values_list("offset_days", flat=True)) == [
        -3,
        0,
        7,
        14,
        30,
    ]
    assert Reminder.objects.filter(invoice=acme_invoice).count() == 2
