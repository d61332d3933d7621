import pytest

from tally.accounts.models import Role, User
from tally.audit.actors import SystemActor
from tally.audit.models import AuditEvent
from tally.clients.models import Client
from tally.clients.services import create_client
from tally.errors import DomainError

pytestmark = pytest.mark.django_db


def test_a_client_is_created_with_its_contacts_and_audited():
    client = create_client(
        actor=SystemActor.TESTS,
        name="Acme",
        code="acme",
        currency="eur",
        payment_terms_days=14,
        time_zone="Europe/Berlin",
        tax_rate_bp=1900,
        billing_contacts=[("AP", "AP@Acme.example")],
    )
    assert (client.currency, client.payment_terms_days, client.tax_rate_bp) == ("EUR", 14, 1900)
    assert list(client.billing_contacts.values_list("email", flat=True)) == ["ap@acme.example"]
    assert AuditEvent.objects.filter(action="client.created", client_id=client.pk).exists()


def test_bad_client_settings_name_each_field():
    with pytest.raises(DomainError) as err:
        create_client(
            actor=SystemActor.TESTS,
            name="",
            code="x",
            currency="XXY",
            time_zone="Mars/Olympus",
            payment_terms_days=400,
            tax_rate_bp=20000,
        )
    assert {p.field for p in err.value.problems} == {
        "name",
        "currency",
        "time_zone",
        "payment_terms_days",
        "tax_rate_bp",
    }
    assert not Client.objects.exists()


def test_a_duplicate_code_is_refused(acme):
    with pytest.raises(DomainError) as err:
        create_client(actor=SystemActor.TESTS, name="Other", code="acme", currency="USD")
    assert err.value.problems[0].field == "code"


def test_users_log_in_by_email_with_argon2_and_client_users_belong_to_one_client(acme):
    user = User.objects.create_user(
        "Someone@Acme.example", "s3cret-pass-phrase", role=Role.CLIENT_USER, client=acme
    )
    assert user.email == "someone@acme.example"
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("s3cret-pass-phrase")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        User.objects.create_user("loose@acme.example", "x", role=Role.CLIENT_USER)
    with pytest.raises(ValidationError):
        User.objects.create_user("ops2@acme.example", "x", role=Role.OPERATOR, client=acme)
