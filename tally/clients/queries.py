"""Reading clients."""

from tally.errors import NotFound

from .models import Client


def get_client(client_id: int) -> Client:
    try:
        return Client.objects.get(pk=client_id)
    except Client.DoesNotExist:
        raise NotFound("client") from None


def get_client_by_code(code: str) -> Client:
    try:
        return Client.objects.get(code=code)
    except Client.DoesNotExist:
        raise NotFound(f"client {code!r}") from None


def billing_emails(client: Client) -> list[str]:
    return list(client.billing_contacts.order_by("id").values_list("email", flat=True))
