"""The statement of account as a PDF, on the invoice's letter paper (`pdf.py`): what the
page shows, currency by currency, from the same read model (`queries.Statement`)."""

from datetime import timedelta

from django.conf import settings
from fpdf.enums import XPos, YPos

from .pdf import (
    ACCENT,
    INK,
    MUTED,
    DocumentPDF,
    Formats,
    bill_to,
    fact_list,
    keep_together,
    ledger,
    letterhead,
    safe_text,
)
from .queries import ClientHeader, Statement, StatementEntry


def statement_title(statement: Statement, fmt: Formats) -> str:
    return f"{fmt.date(statement.start)} – {fmt.date(statement.end)}"


def render_statement_pdf(
    client: ClientHeader, statement: Statement, locale: str = "en_US"
) -> bytes:
    """The statement as a PDF document (bytes), paginated, with page numbers."""
    first = statement.currencies[0].currency if statement.currencies else client.currency
    fmt = Formats(first, locale)
    period = statement_title(statement, fmt)
    pdf = DocumentPDF(safe_text(settings.TALLY_OPERATOR_NAME), f"Statement {period}")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    letterhead(pdf, "STATEMENT", period, width)
    top = pdf.get_y()
    left_bottom = bill_to(pdf, client, width * 0.5)
    facts = [
        ("From", fmt.date(statement.start)),
        ("To", fmt.date(statement.end)),
        ("Opening balance on", fmt.date(statement.start - timedelta(days=1))),
        ("Currencies", ", ".join(c.currency for c in statement.currencies) or client.currency),
    ]
    fact_list(pdf, facts, top, width)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)
    for section in statement.currencies:
        fmt = Formats(section.currency, locale)
        keep_together(pdf, 40)
        pdf.section_title(f"In {section.currency}")
        rows = [["", "Opening balance", "", "", "", fmt.money(section.opening_minor)]]
        rows += [_row(entry, fmt) for entry in section.entries]
        if not section.entries:
            rows.append(["", "No invoices, payments or credits in this range.", "", "", "", ""])
        rows.append(["", "Closing balance", "", "", "", fmt.money(section.closing_minor)])
        ledger(
            pdf,
            ["Date", "Transaction", "Details", "Charges", "Credits", "Balance"],
            rows,
            widths=_widths(width),
            align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
            bold_rows=frozenset({0, len(rows) - 1}),
        )
        _summary(pdf, section.opening_minor, section.charges_minor, section.credits_minor,
                 section.closing_minor, fmt, width)  # fmt: skip
    pdf.ln(4)
    pdf._font(8.5, "", MUTED)
    pdf.multi_cell(
        0,
        4.5,
        safe_text(
            "A balance below zero is credit in your favour. Dates are in "
            f"{statement.time_zone} time. Questions about this statement: "
            f"{settings.TALLY_OPERATOR_CONTACT}."
        ),
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())


def _row(entry: StatementEntry, fmt: Formats) -> list[str]:
    if entry.kind == "invoice":
        transaction, details = f"Invoice {entry.document}", f"Due {fmt.date(entry.due_date)}"
    elif entry.kind == "credit_note":
        transaction = f"Credit note {entry.document}"
        details = f"On {entry.invoice_number}: {entry.detail}"
    elif entry.kind == "void":
        transaction, details = f"Voided {entry.document}", entry.detail
    else:
        # A payment or refund: how, and the reference it came with, as the page says it.
        transaction = entry.label
        details = " · ".join(part for part in (entry.detail, entry.document) if part)
    return [
        fmt.date(entry.day),
        transaction,
        details,
        fmt.money(entry.charge_minor) if entry.charge_minor else "",
        fmt.money(entry.credit_minor) if entry.credit_minor else "",
        fmt.money(entry.balance_minor),
    ]


def _widths(width: float) -> tuple[float, ...]:
    """The columns in mm: date, transaction, details, charges, credits, balance."""
    shares = (13, 20, 30, 12, 12, 13)
    return tuple(width * share / sum(shares) for share in shares)


def _summary(
    pdf: DocumentPDF,
    opening: int,
    charges: int,
    credits: int,
    closing: int,
    fmt: Formats,
    width: float,
) -> None:
    box_w = width * 0.45
    x = pdf.l_margin + width - box_w
    keep_together(pdf, 4 * 6.5 + 12)
    pdf.ln(3)
    for label, value, bold in (
        ("Opening balance", opening, False),
        ("Charges", charges, False),
        ("Payments and credits", -credits, False),
    ):
        pdf.set_x(x)
        pdf._font(10, "B" if bold else "", INK)
        pdf.cell(box_w * 0.55, 6.5, label)
        pdf.cell(
            box_w * 0.45, 6.5, fmt.money(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(1.5)
    pdf.set_x(x)
    pdf.set_fill_color(*ACCENT)
    pdf._font(11.5, "B", (255, 255, 255))
    pdf.cell(box_w * 0.55, 9, "Closing balance", fill=True)
    pdf.cell(box_w * 0.45, 9, fmt.money(closing), align="R", fill=True,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
