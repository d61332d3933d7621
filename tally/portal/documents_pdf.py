"""A credit note and a payment receipt as PDFs, on the invoice's letter paper (`pdf.py`),
from the portal's read models: nothing the client could not already see in the portal."""

from zoneinfo import ZoneInfo

from django.conf import settings
from fpdf.enums import XPos, YPos

from .pdf import (
    ACCENT,
    INK,
    MUTED,
    WHITE,
    DocumentPDF,
    Formats,
    bill_to,
    fact_list,
    keep_together,
    letterhead,
    safe_text,
    table,
)
from .queries import ClientHeader, CreditNoteDocument, PaymentReceipt


def render_credit_note_pdf(
    client: ClientHeader, note: CreditNoteDocument, locale: str = "en_US"
) -> bytes:
    """The credit note: its number and date, the invoice it credits, the amount and the
    reason the client reads, and what the invoice owes now."""
    fmt = Formats(note.currency, locale)
    number = safe_text(note.number)
    pdf = _start(f"Credit note {number}", "CREDIT NOTE", number)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    day = note.created_at.astimezone(ZoneInfo(client.time_zone)).date()
    _parties(
        pdf,
        client,
        [
            ("Credit note number", note.number),
            ("Date", fmt.date(day)),
            ("Credits invoice", note.invoice_number),
            ("Invoice date", fmt.date(note.invoice_issue_date)),
            ("Currency", note.currency),
        ],
        width,
    )
    pdf.section_title("Credited")
    table(
        pdf,
        ["Description", "Amount"],
        [[f"Credit on {line.description}", fmt.money(line.amount_minor)] for line in note.lines]
        or [[f"Credit on invoice {note.invoice_number}", fmt.money(note.amount_minor)]],
        widths=(80, 20),
        align=("LEFT", "RIGHT"),
    )
    _note(pdf, f"Reason: {note.reason}")
    _totals(
        pdf,
        [
            (f"Invoice {note.invoice_number} total", fmt.money(note.invoice_total_minor)),
            ("Credited by all its credit notes", fmt.money(-note.invoice_credited_minor)),
        ],
        ("This credit note", fmt.money(note.amount_minor)),
        width,
    )
    _note(
        pdf,
        f"Invoice {note.invoice_number} now owes {fmt.money(note.invoice_balance_minor)}. "
        "A credit larger than what the invoice still owed is credit on your account: it "
        "pays your next invoice, unless it is refunded to you.",
    )
    return bytes(pdf.output())


def render_receipt_pdf(
    client: ClientHeader, receipt: PaymentReceipt, locale: str = "en_US"
) -> bytes:
    """The receipt of a payment: when, how much, how and with what reference, what it paid,
    what was refunded from it and what is left as credit."""
    fmt = Formats(receipt.currency, locale)
    received = f"{fmt.money(receipt.amount_minor)} received {fmt.date(receipt.received_on)}"
    pdf = _start(f"Receipt for {received}", "RECEIPT", received)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    _parties(
        pdf,
        client,
        [
            ("Payment received", fmt.date(receipt.received_on)),
            ("Amount", fmt.money(receipt.amount_minor)),
            ("Method", receipt.method_label),
            ("Reference", receipt.reference or "—"),
            ("Paid by", receipt.payer or "—"),
        ],
        width,
    )
    pdf.section_title("Applied to")
    rows = [[f"Invoice {a.invoice_number}", fmt.money(a.amount_minor)] for a in receipt.applied_to]
    if not rows:
        rows = [["Not applied to an invoice yet", ""]]
    table(pdf, ["Invoice", "Applied"], rows, widths=(80, 20), align=("LEFT", "RIGHT"))
    if receipt.refunds:
        pdf.section_title("Refunded to you")
        table(
            pdf,
            ["Date", "Method", "Reference", "Amount"],
            [
                [
                    fmt.date(r.refunded_on),
                    r.method_label,
                    r.reference or "—",
                    fmt.money(r.amount_minor),
                ]
                for r in receipt.refunds
            ],
            widths=(20, 25, 35, 20),
            align=("LEFT", "LEFT", "LEFT", "RIGHT"),
        )
    applied = sum(a.amount_minor for a in receipt.applied_to)
    refunded = sum(r.amount_minor for r in receipt.refunds)
    entries = [("Amount received", fmt.money(receipt.amount_minor))]
    entries.append(("Applied to invoices", fmt.money(-applied)))
    if refunded:
        entries.append(("Refunded", fmt.money(-refunded)))
    _totals(pdf, entries, ("Unapplied credit", fmt.money(receipt.unapplied_minor)), width)
    if receipt.unapplied_minor:
        _note(
            pdf,
            f"{fmt.money(receipt.unapplied_minor)} of this payment is credit on your account: "
            "it pays your next invoice when it is issued, unless it is refunded to you.",
        )
    _note(pdf, "Thank you for your payment.")
    return bytes(pdf.output())


def _start(title: str, heading: str, subheading: str) -> DocumentPDF:
    pdf = DocumentPDF(safe_text(settings.TALLY_OPERATOR_NAME), title)
    pdf.add_page()
    letterhead(pdf, heading, subheading, pdf.w - pdf.l_margin - pdf.r_margin)
    return pdf


def _parties(
    pdf: DocumentPDF, client: ClientHeader, facts: list[tuple[str, str]], width: float
) -> None:
    top = pdf.get_y()
    left_bottom = bill_to(pdf, client, width * 0.5)
    fact_list(pdf, facts, top, width)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)


def _totals(
    pdf: DocumentPDF, entries: list[tuple[str, str]], last: tuple[str, str], width: float
) -> None:
    box_w = width * 0.5
    x = pdf.l_margin + width - box_w
    keep_together(pdf, 6.5 * len(entries) + 16)
    pdf.ln(3)
    for label, value in entries:
        pdf.set_x(x)
        pdf._font(10, "", INK)
        pdf.cell(box_w * 0.6, 6.5, safe_text(label))
        pdf.cell(box_w * 0.4, 6.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    pdf.set_x(x)
    pdf.set_fill_color(*ACCENT)
    pdf._font(11.5, "B", WHITE)
    pdf.cell(box_w * 0.6, 9, safe_text(last[0]), fill=True)
    pdf.cell(box_w * 0.4, 9, last[1], align="R", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _note(pdf: DocumentPDF, text: str) -> None:
    pdf.ln(4)
    pdf._font(9, "", MUTED)
    pdf.multi_cell(0, 5, safe_text(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
