"""Who receives the client's invoices and reminders."""

from dataclasses import dataclass

from tally.clients.models import BillingContact

from ..scope import client_scope
from .common import _tables


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    email: str


def billing_contacts(client_id: int) -> list[ContactRow]:
    with client_scope(client_id, _tables(BillingContact)):
        rows = BillingContact.objects.order_by("name", "email", "id").values_list(
            "id", "name", "email"
        )
        return [ContactRow(*row) for row in rows]
