"""The invoice as a PDF: what the client downloads, prints, forwards and files.

Drawn with fpdf2 (pure Python) in DejaVu Sans, shipped beside this module (`fonts/`) and
embedded in each PDF as the subset of glyphs it uses: clients' names and addresses print
as they are written in Latin, Greek and Cyrillic scripts (Łódź, İzmir, Αθήνα, Москва), and
so do currency signs from € to ₹, ₩, ₺ and ₽. Text the font has no glyph for never
raises: an amount whose currency sign it lacks prints with its ISO code ("GEL 1,234.50"),
other characters are simplified (compatibility form, then without accents) or shown as
"?" (CJK scripts, which would need a font many times this size).

Everything printed comes from the portal's read models (`ClientHeader`, `InvoiceDetail`),
so the PDF can show nothing the client could not already see in the portal.
"""

import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from django.conf import settings
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, XPos, YPos

from tally.invoicing.instructions import payment_instructions
from tally.money import format_money, price_to_decimal, to_decimal

from .formatting import method_label
from .queries import STATUS_LABELS, ClientHeader, CreditedLine, InvoiceDetail

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
FONT_FILES = {"": FONTS / "DejaVuSans.ttf", "B": FONTS / "DejaVuSans-Bold.ttf"}

# Colours (RGB).
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (21, 76, 97)
RULE = (206, 212, 218)
ZEBRA = (245, 247, 249)
WHITE = (255, 255, 255)
STATUS_COLOURS = {
    "paid": (25, 118, 70),
    "void": (176, 42, 55),
    "overdue": (176, 42, 55),
    "disputed": (179, 104, 0),
    "partially_paid": ACCENT,
    "open": ACCENT,
}
WATERMARKS = {"paid": ("PAID", STATUS_COLOURS["paid"]), "void": ("VOID", STATUS_COLOURS["void"])}

MARGIN = 18.0  # mm
FOOTER_SPACE = 20.0  # mm kept free at the bottom of every page


# -- text the font can show ------------------------------------------------------------
@cache
def _glyphs() -> frozenset[int]:
    """The code points both faces can draw (read once per process)."""
    faces = [set(TTFont(path, lazy=True).getBestCmap()) for path in FONT_FILES.values()]
    return frozenset(set.intersection(*faces))


def _drawable(text: str) -> bool:
    glyphs = _glyphs()
    return all(ord(ch) in glyphs for ch in text if ch not in "\n\t")


# Letters that have no accent-free decomposition of their own.
_PLAIN = str.maketrans("ŁłĐđĦħıŧŦ", "LlDdHhitT")


def _char(ch: str) -> str:
    if _drawable(ch):
        return ch
    plain = ch.translate(_PLAIN)
    if plain != ch:
        return plain
    compat = unicodedata.normalize("NFKC", ch)
    if _drawable(compat):
        return compat
    bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if bare and _drawable(bare):
        return bare
    return "?"


def safe_text(text: str) -> str:
    """`text` as the font can print it: unchanged when it can, never an error."""
    if _drawable(text):
        return text
    return "".join(_char(ch) for ch in text)


class Formats:
    """Money, numbers and dates for one invoice, in the viewer's locale."""

    def __init__(self, currency: str, locale: str) -> None:
        locale = (locale or "").replace("-", "_")
        try:
            Locale.parse(locale)
        except (UnknownLocaleError, ValueError, TypeError):
            locale = "en_US"
        self.currency = currency
        self.locale = locale

    def money(self, minor: int) -> str:
        text = format_money(minor, self.currency, self.locale)
        printable = "".join(_char(ch) for ch in text)
        if "?" in printable and "?" not in text:
            # The symbol (₹, ₩, ₺, …) is not in the font: say the ISO code instead.
            printable = safe_text(
                format_currency(
                    to_decimal(minor, self.currency),
                    self.currency,
                    format="¤¤\xa0#,##0.00",
                    locale=self.locale,
                    currency_digits=True,
                )
            )
        return printable

    def price(self, micros: int) -> str:
        return safe_text(
            format_decimal(price_to_decimal(micros), format="#,##0.0000##", locale=self.locale)
        )

    def quantity(self, quantity: int) -> str:
        return safe_text(format_decimal(quantity, locale=self.locale))

    def rate(self, basis_points: int) -> str:
        return safe_text(
            format_percent(Decimal(basis_points) / 10_000, format="#,##0.###%", locale=self.locale)
        )

    def date(self, day: date | None) -> str:
        return safe_text(format_date(day, "medium", locale=self.locale)) if day else "—"


# -- the document ------------------------------------------------------------------------
class DocumentPDF(FPDF):
    """A page of the 3PL's letter paper: every document the client downloads (invoice,
    credit note, receipt, statement) is one; `title` ("Invoice INV-000123") heads each
    page after the first and ends each page's footer; `status` "paid" or "void" draws
    its watermark."""

    def __init__(self, operator: str, title: str, status: str = "") -> None:
        super().__init__(orientation="portrait", unit="mm", format="letter")
        for style, path in FONT_FILES.items():
            self.add_font(FONT, style, str(path))
        self.operator = operator
        self.doc_title = title
        self.status = status
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=FOOTER_SPACE)
        self.set_title(title)
        self.set_author(operator)
        self.set_subject(f"{operator} {title[:1].lower()}{title[1:]}")
        self.set_creator("Tally")

    # fpdf2 calls these on every new page.
    def header(self) -> None:
        if self.page_no() > 1:
            self._font(8.5, "B", ACCENT)
            self.cell(0, 5, self.operator, new_x=XPos.LMARGIN, new_y=YPos.TOP)
            self._font(8.5, "", MUTED)
            self.cell(0, 5, f"{self.doc_title} (continued)", align="R")
            self.ln(7)
            self._rule(self.get_y(), RULE, 0.3)
            self.ln(5)

    def footer(self) -> None:
        self._watermark()
        self.set_y(-14)
        self._rule(self.get_y() - 1.5, RULE, 0.3)
        self._font(8, "", MUTED)
        self.cell(0, 5, f"{self.operator}  ·  {self.doc_title}", new_x=XPos.LMARGIN)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    def _watermark(self) -> None:
        mark = WATERMARKS.get(self.status)
        if mark is None:
            return
        text, colour = mark
        x, y = self.w / 2, self.h / 2
        # Drawn last on each page, translucent, so that table fills cannot hide it.
        with self.local_context(fill_opacity=0.13):
            self._font(120, "B", colour)
            width = self.get_string_width(text)
            with self.rotation(35, x=x, y=y):
                self.text(x - width / 2, y + 15, text)

    # small helpers
    def _font(self, size: float, style: str = "", colour: tuple[int, int, int] = INK) -> None:
        self.set_font(FONT, style, size)
        self.set_text_color(*colour)

    def _rule(self, y: float, colour: tuple[int, int, int], width: float) -> None:
        self.set_draw_color(*colour)
        self.set_line_width(width)
        self.line(self.l_margin, y, self.w - self.r_margin, y)

    def section_title(self, title: str) -> None:
        if self.will_page_break(22):
            self.add_page()
        self.ln(4)
        self._font(10.5, "B", ACCENT)
        self.cell(0, 6, title.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)


def _with_lines(reason: str, lines: Sequence[CreditedLine], money: Callable[[int], str]) -> str:
    """A credit note's reason, followed by what it credits on each line, if chosen lines."""
    if not lines:
        return reason
    return f"{reason} ({'; '.join(f'{line.description}: {money(line.amount_minor)}' for line in lines)})"


def table(
    pdf: DocumentPDF,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    align: Sequence[str],
    width: float | None = None,
) -> None:
    pdf._font(9, "", INK)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    heading_style = FontFace(emphasis="BOLD", color=WHITE, fill_color=ACCENT, size_pt=8.5)
    with pdf.table(
        col_widths=tuple(widths),
        text_align=tuple(align),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=heading_style,
        line_height=pdf.font_size * 1.3,
        padding=(1.3, 2.0),
        width=width,
        align="LEFT",
        repeat_headings=1,
    ) as table:
        table.row([safe_text(h) for h in headings])
        for i, values in enumerate(rows):
            style = FontFace(color=INK, fill_color=ZEBRA if i % 2 else WHITE)
            table.row([safe_text(v) for v in values], style=style)


def render_invoice_pdf(client: ClientHeader, detail: InvoiceDetail, locale: str = "en_US") -> bytes:
    """The invoice as a PDF document (bytes), paginated, with page numbers."""
    row = detail.row
    fmt = Formats(row.currency, locale)
    operator = safe_text(settings.TALLY_OPERATOR_NAME)
    # A paid invoice under dispute still says PAID across the page: it owes nothing.
    settled = "paid" if row.status != "void" and row.balance_minor == 0 else row.status
    pdf = DocumentPDF(operator, f"Invoice {safe_text(row.number)}", settled)
    pdf.add_page()
    content_width = pdf.w - pdf.l_margin - pdf.r_margin

    letterhead(pdf, "INVOICE", row.number, content_width)
    _parties(pdf, client, detail, fmt, content_width)
    _status_notice(pdf, detail, fmt)
    _lines(pdf, detail, fmt)
    # How to pay goes with the balance it pays, on the same page: printed after the
    # payments and credit notes, it could stand alone on a page of its own.
    how_to_pay = payment_instructions(row.currency) if row.balance_minor > 0 else ""
    instructions = _Instructions(pdf, row.number, how_to_pay, content_width)
    _totals(pdf, detail, fmt, content_width, keep_with=instructions.height)
    instructions.draw()
    if detail.allocations:
        pdf.section_title("Payments received")
        table(
            pdf,
            ["Date", "Method", "Reference", "Payer", "Applied"],
            [
                [
                    fmt.date(a.received_on),
                    method_label(a.method),
                    a.reference or "—",
                    a.payer or "—",
                    fmt.money(a.amount_minor),
                ]
                for a in detail.allocations
            ],
            widths=(17, 17, 26, 22, 18),
            align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"),
        )
    if detail.credit_notes:
        zone = ZoneInfo(client.time_zone)
        pdf.section_title("Credit notes")
        table(
            pdf,
            ["Credit note", "Date", "Reason", "Amount"],
            [
                [
                    n.number,
                    fmt.date(n.created_at.astimezone(zone).date()),
                    _with_lines(n.reason, n.lines, fmt.money),
                    fmt.money(n.amount_minor),
                ]
                for n in detail.credit_notes
            ],
            widths=(16, 15, 51, 18),
            align=("LEFT", "LEFT", "LEFT", "RIGHT"),
        )
    return bytes(pdf.output())


def letterhead(pdf: DocumentPDF, heading: str, subheading: str, width: float) -> None:
    """The 3PL's name, address and contact on the left; the document's kind and number
    on the right; a rule beneath."""
    top = pdf.get_y()
    pdf._font(20, "B", ACCENT)
    pdf.multi_cell(width * 0.6, 9, pdf.operator, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # From whom, as an AP department files it: address, contact, tax registration.
    pdf._font(8, "", MUTED)
    address = ", ".join(ln.strip() for ln in settings.TALLY_OPERATOR_ADDRESS.splitlines())
    contact = " · ".join(
        part for part in (settings.TALLY_OPERATOR_CONTACT, settings.TALLY_OPERATOR_TAX_ID) if part
    )
    for line in (address, contact):
        if line.strip(", "):
            pdf.multi_cell(width * 0.6, 4, safe_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    pdf._font(24, "B", INK)
    pdf.cell(0, 10, heading, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf._font(11, "", MUTED)
    pdf.cell(0, 6, safe_text(subheading), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 3)
    pdf._rule(pdf.get_y(), ACCENT, 0.8)
    pdf.ln(6)


def _parties(
    pdf: DocumentPDF, client: ClientHeader, detail: InvoiceDetail, fmt: Formats, width: float
) -> None:
    row = detail.row
    top = pdf.get_y()
    left_bottom = bill_to(pdf, client, width * 0.5)
    facts: list[tuple[str, str]] = [
        ("Invoice number", row.number),
        ("Issue date", fmt.date(row.issue_date)),
        ("Due date", fmt.date(row.due_date)),
        ("Terms", f"Net {(row.due_date - row.issue_date).days} days"),
        ("Service period", f"{fmt.date(detail.period_start)} – {fmt.date(detail.period_end)}"),
        ("Currency", row.currency),
    ]
    label_x, label_w = fact_list(pdf, facts, top, width)
    pdf.set_x(label_x)
    pdf._font(8.5, "", MUTED)
    pdf.cell(label_w, 7, "Status")
    _badge(
        pdf, STATUS_LABELS[row.status].upper(), STATUS_COLOURS[row.status], label_x + width * 0.48
    )
    pdf.set_y(max(left_bottom, pdf.get_y() + 8))


def bill_to(pdf: DocumentPDF, client: ClientHeader, left_width: float) -> float:
    """The client's name, address and account code down the left; where it ends."""
    pdf._font(8, "B", MUTED)
    pdf.cell(left_width, 5, "BILL TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf._font(11.5, "B", INK)
    pdf.multi_cell(left_width, 6, safe_text(client.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf._font(10, "", INK)
    for line in (ln.strip() for ln in client.address.splitlines()):
        if line:
            pdf.multi_cell(left_width, 5, safe_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf._font(8.5, "", MUTED)
    pdf.cell(left_width, 6, safe_text(f"Account {client.code}"), new_x=XPos.LMARGIN)
    return pdf.get_y() + 6


def fact_list(
    pdf: DocumentPDF, facts: Sequence[tuple[str, str]], top: float, width: float
) -> tuple[float, float]:
    """The document's facts (label, value) down the right from `top`, the first in bold;
    the labels' x and width, for a line to add beneath."""
    label_x = pdf.l_margin + width * 0.52
    label_w = width * 0.2
    value_w = width - (label_x - pdf.l_margin) - label_w
    pdf.set_y(top)
    for i, (label, value) in enumerate(facts):
        pdf.set_x(label_x)
        pdf._font(8.5, "", MUTED)
        pdf.cell(label_w, 5.5, label)
        pdf._font(9.5, "B" if i == 0 else "", INK)
        pdf.cell(value_w, 5.5, safe_text(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return label_x, label_w


def _badge(pdf: DocumentPDF, text: str, colour: tuple[int, int, int], right: float) -> None:
    pdf._font(8, "B", WHITE)
    w = pdf.get_string_width(text) + 5
    y = pdf.get_y() + 1
    pdf.set_fill_color(*colour)
    pdf.rect(right - w, y, w, 5, style="F", round_corners=True, corner_radius=1.2)
    pdf.set_xy(right - w, y)
    pdf.cell(w, 5, text, align="C")


def _status_notice(pdf: DocumentPDF, detail: InvoiceDetail, fmt: Formats) -> None:
    row = detail.row
    if row.status == "void":
        reason = detail.void_reason.strip()
        if reason and reason[-1] not in ".!?":
            reason += "."
        text = (
            f"This invoice has been voided{': ' + reason if reason else '.'} Nothing is owed on it."
        )
    elif row.status == "paid":
        text = "Paid in full. Thank you."
    elif row.status == "overdue":
        text = (
            f"Overdue: {fmt.money(row.balance_minor)} was due on {fmt.date(row.due_date)}. "
            "Please arrange payment as soon as possible."
        )
    elif row.status == "disputed":
        text = "Under dispute: reminders are paused while we review the charges you questioned."
    else:
        return
    colour = STATUS_COLOURS[row.status]
    pdf.set_draw_color(*colour)
    pdf.set_line_width(0.4)
    pdf._font(9.5, "B", colour)
    pdf.multi_cell(
        0,
        6,
        safe_text(text),
        border=1,
        padding=(2, 3),
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)


def _lines(pdf: DocumentPDF, detail: InvoiceDetail, fmt: Formats) -> None:
    pdf.section_title("Charges")
    rows = []
    for line in detail.lines:
        if line.line_type == "adjustment":
            description = line.description + (f"\nReason: {line.reason}" if line.reason else "")
            rows.append(
                [description, fmt.quantity(line.quantity), "—", fmt.money(line.amount_minor)]
            )
        else:
            rows.append(
                [
                    line.description,
                    fmt.quantity(line.quantity),
                    fmt.price(line.unit_price_micros),
                    fmt.money(line.amount_minor),
                ]
            )
    if not rows:
        rows.append(["No charges on this invoice.", "", "", ""])
    table(
        pdf,
        ["Description", "Quantity", f"Unit price ({detail.row.currency})", "Amount"],
        rows,
        widths=(50, 14, 17, 19),
        align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )


def _totals(
    pdf: DocumentPDF, detail: InvoiceDetail, fmt: Formats, width: float, keep_with: float
) -> None:
    """The totals box; `keep_with` mm of what follows move to the next page with it."""
    row = detail.row
    entries: list[tuple[str, str, str]] = [("Subtotal", fmt.money(detail.subtotal_minor), "")]
    if detail.tax_rate_bp or detail.tax_minor:
        entries.append((f"Tax ({fmt.rate(detail.tax_rate_bp)})", fmt.money(detail.tax_minor), ""))
    entries.append(("Total", fmt.money(row.total_minor), "total"))
    if detail.allocated_minor:
        entries.append(("Payments received", fmt.money(-detail.allocated_minor), ""))
    if detail.credited_minor:
        entries.append(("Credits", fmt.money(-detail.credited_minor), ""))
    box_w = width * 0.45
    x = pdf.l_margin + width - box_w
    owing = row.balance_minor > 0
    keep_together(pdf, 3 + 6.5 * len(entries) + 1.3 + 1.5 + 9 + (6 if owing else 0) + keep_with)
    pdf.ln(3)
    for label, value, kind in entries:
        if kind == "total":
            _h_rule(pdf, x, box_w)
        pdf.set_x(x)
        pdf._font(10, "B" if kind else "", INK)
        pdf.cell(box_w * 0.55, 6.5, safe_text(label))
        pdf.cell(box_w * 0.45, 6.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    pdf.set_x(x)
    pdf.set_fill_color(*ACCENT)
    pdf._font(11.5, "B", WHITE)
    pdf.cell(box_w * 0.55, 9, "Balance due", fill=True)
    pdf.cell(
        box_w * 0.45,
        9,
        fmt.money(row.balance_minor),
        align="R",
        fill=True,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if owing:
        pdf.set_x(x)
        pdf._font(8.5, "", MUTED)
        pdf.cell(box_w, 6, f"Due by {fmt.date(row.due_date)}", align="R")
        pdf.ln(6)


def keep_together(pdf: DocumentPDF, height: float) -> None:
    """Start a new page unless a block of `height` mm fits on this one."""
    if pdf.will_page_break(height):
        pdf.add_page()


def _h_rule(pdf: DocumentPDF, x: float, width: float) -> None:
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.3)
    y = pdf.get_y() + 0.5
    pdf.line(x, y, x + width, y)
    pdf.set_y(y + 0.8)


def _line_count(pdf: DocumentPDF, text: str, width: float) -> int:
    lines = pdf.multi_cell(width, 5, text, dry_run=True, output="LINES")
    return len(lines) if isinstance(lines, list) else 1


class _Instructions:
    """The "How to pay" block: measured first, so that the totals can keep it with them."""

    def __init__(self, pdf: DocumentPDF, number: str, how_to_pay: str, width: float) -> None:
        self.pdf, self.width = pdf, width
        self.text = safe_text(how_to_pay)
        self.reference = safe_text(f"Please quote invoice {number} with your payment.")
        self.height = 0.0
        if self.text:
            pdf._font(9.5)
            text_lines = _line_count(pdf, self.text, width - 8)
            pdf._font(8.5)
            reference_lines = _line_count(pdf, self.reference, width - 8)
            self.height = 6 + 7 + 5 * (text_lines + reference_lines) + 3

    def draw(self) -> None:
        pdf, width = self.pdf, self.width
        if not self.text:
            return
        keep_together(pdf, self.height)
        pdf.ln(6)
        top = pdf.get_y()
        pdf.set_x(pdf.l_margin + 4)
        pdf._font(10.5, "B", ACCENT)
        pdf.cell(0, 7, "HOW TO PAY", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf._font(9.5, "", INK)
        pdf.set_x(pdf.l_margin + 4)
        pdf.multi_cell(width - 8, 5, self.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf._font(8.5, "", MUTED)
        pdf.set_x(pdf.l_margin + 4)
        pdf.multi_cell(width - 8, 5, self.reference, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        bottom = pdf.get_y() + 3
        pdf.set_fill_color(*ACCENT)
        pdf.rect(pdf.l_margin, top, 1.2, bottom - top, style="F")
        pdf.set_y(bottom)


def ledger(
    pdf: DocumentPDF,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    align: Sequence[str],
    bold_rows: frozenset[int] = frozenset(),
) -> None:
    """A table drawn cell by cell (`widths` in mm): a statement's thousand rows in a
    fraction of the time `table` takes to lay them out. A left-aligned text wider than its
    column wraps onto a second and third line (then ends with an ellipsis); a
    right-aligned one (an amount) is never cut: it prints smaller until it fits. The
    headings repeat on every page."""
    first, more = 6.0, 4.2  # the height of a row's first line, and of each further one

    def heading() -> None:
        pdf.set_fill_color(*ACCENT)
        pdf._font(8.5, "B", WHITE)
        for text, width, side in zip(headings, widths, align, strict=True):
            pdf.cell(width, first + 1, f" {safe_text(text)} ", align=side[0], fill=True)
        pdf.ln(first + 1)

    heading()
    for i, values in enumerate(rows):
        style = "B" if i in bold_rows else ""
        pdf._font(9, style, INK)
        cells = [
            _wrapped(pdf, safe_text(text), width - 2) if side == "LEFT" else [safe_text(text)]
            for text, width, side in zip(values, widths, align, strict=True)
        ]
        height = first + more * (max(len(lines) for lines in cells) - 1)
        if pdf.will_page_break(height):
            pdf.add_page()
            heading()
            pdf._font(9, style, INK)
        top, x = pdf.get_y(), pdf.l_margin
        pdf.set_fill_color(*(ZEBRA if i % 2 else WHITE))
        pdf.rect(x, top, sum(widths), height, style="F")
        for lines, width, side in zip(cells, widths, align, strict=True):
            for k, text in enumerate(lines):
                pdf.set_xy(x, top + (more * k if k else 0))
                size = 9.0
                while side != "LEFT" and size > 5 and pdf.get_string_width(text) > width - 2:
                    size -= 0.5
                    pdf.set_font_size(size)
                pdf.cell(width, first if k == 0 else more + 1.8, f" {text} ", align=side[0])
                pdf.set_font_size(9)
            x += width
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        pdf.line(pdf.l_margin, top + height, pdf.l_margin + sum(widths), top + height)
        pdf.set_xy(pdf.l_margin, top + height)


def _wrapped(pdf: DocumentPDF, text: str, width: float, most: int = 3) -> list[str]:
    """`text` in lines that fit `width` mm in the current font, at most `most` of them."""
    if pdf.get_string_width(text) <= width:
        return [text]
    lines = pdf.multi_cell(width, 4, text, dry_run=True, output="LINES", padding=0)
    assert isinstance(lines, list)
    if len(lines) <= most:
        return lines
    last = lines[most - 1]
    while last and pdf.get_string_width(last + "…") > width:
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip() + "…"]
