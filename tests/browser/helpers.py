"""What the browser tests share: locators, expected orders, screenshots, privacy checks."""

import csv
import io
from pathlib import Path

from playwright.sync_api import Download, Locator, Page

from tally.invoicing.status import DerivedStatus
from tally.money import format_money
from tests.browser.scenario import INTERNAL_NOTE, Scenario

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

ROW_NUMBERS = "table.invoices tbody.invoice > tr:first-child > th[scope=row]"
ROW_STATUSES = "table.invoices tbody.invoice > tr:first-child .status"

SORT_FIELDS = {
    "issue_date": lambda inv, status: inv.issue_date,
    "due_date": lambda inv, status: inv.due_date,
    "status": lambda inv, status: DerivedStatus(status).rank,
    "amount": lambda inv, status: inv.total_minor,
    "balance": lambda inv, status: inv.balance_minor,
}
HEADERS = {
    "issue_date": "Issued",
    "due_date": "Due",
    "status": "Status",
    "amount": "Total",
    "balance": "Balance",
}


def usd(minor: int) -> str:
    return format_money(minor, "USD", "en_US")


def rows(page: Page) -> Locator:
    return page.locator(ROW_NUMBERS)


def expected_order(
    portal: Scenario,
    sort: str = "issue_date",
    descending: bool = True,
    only: set[str] | None = None,
) -> list[str]:
    """Acme's invoice numbers in the order the table must show them (ties broken by id)."""
    key = SORT_FIELDS[sort]
    invoices = [inv for inv in portal.invoices if only is None or inv.display_number in only]
    invoices.sort(
        key=lambda inv: (key(inv, portal.expected_status[inv.display_number]), inv.pk),
        reverse=descending,
    )
    return [inv.display_number for inv in invoices]


def assert_private(page: Page, portal: Scenario) -> None:
    """Nothing of the other client's, and no internal note, anywhere in the page."""
    html = page.content()
    assert INTERNAL_NOTE[:30] not in html, "an internal note reached the client's page"
    assert "Globex" not in html
    for other in portal.globex_numbers:
        assert other not in html, f"{other} (another client's invoice) is on the page"


def shot(page: Page, portal: Scenario, name: str) -> None:
    """Save a screenshot of a state worth looking at, and check the state is private."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret leaves style="" on inputs, which htmx copies into
    # its history snapshot, and the strict CSP then (rightly) reports inline styles.
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")
    assert_private(page, portal)


def csv_rows(download: Download) -> list[list[str]]:
    path = download.path()
    assert path is not None
    return list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


def no_horizontal_scroll(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
