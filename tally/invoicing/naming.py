"""What Tally calls an invoice and a credit note, in one place: the model
(`Invoice.display_number`), the queries that read bare numbers, and the console's pages
(the `draft_name` filter) and messages."""

import re

# An invoice number as a person types it into a search: its prefix, then its digits.
_SPELLED_NUMBER = re.compile(r"INV-?0*([0-9]{1,18})", re.IGNORECASE)


def format_invoice_number(number: int) -> str:
    return f"INV-{number:06d}"


def spelled_invoice_number(term: str) -> int | None:
    """The number `term` spells as an invoice number, prefix and all ("INV-000123",
    "inv-123", "INV123"), or None. A search spelled so looks for that invoice only, not for
    events whose reference starts so: seeking every day of a client's events for it cost
    more than the rest of the page (bench/RESULTS.md)."""
    spelled = _SPELLED_NUMBER.fullmatch(term.strip())
    return int(spelled.group(1)) if spelled else None


def format_credit_note_number(number: int) -> str:
    return f"CN-{number:06d}"


def draft_name(invoice_id: int) -> str:
    """A draft's name until it is issued and numbered: "draft #45" (capfirst at the start
    of a sentence)."""
    return f"draft #{invoice_id}"


def invoice_name(number: int | None, invoice_id: int) -> str:
    """An invoice's number once issued (INV-000123), else its draft name."""
    return format_invoice_number(number) if number else draft_name(invoice_id)
