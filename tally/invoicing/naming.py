"""What Tally calls an invoice and a credit note, in one place: the model
(`Invoice.display_number`), the queries that read bare numbers, and the console's pages
(the `draft_name` filter) and messages."""


def format_invoice_number(number: int) -> str:
    return f"INV-{number:06d}"


def format_credit_note_number(number: int) -> str:
    return f"CN-{number:06d}"


def draft_name(invoice_id: int) -> str:
    """A draft's name until it is issued and numbered: "draft #45" (capfirst at the start
    of a sentence)."""
    return f"draft #{invoice_id}"


def invoice_name(number: int | None, invoice_id: int) -> str:
    """An invoice's number once issued (INV-000123), else its draft name."""
    return format_invoice_number(number) if number else draft_name(invoice_id)
