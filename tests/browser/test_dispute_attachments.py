"""A client attaches files to its dispute in Chromium, with htmx on: they are sent with the
message, listed under it, and download as they were sent."""

from pathlib import Path

from playwright.sync_api import expect

from tally.disputes.models import DisputeAttachment
from tests.browser.helpers import shot
from tests.browser.test_drilldown import expand
from tests.disputes.test_attachments import CSV, PDF, PNG


def test_a_client_opens_a_dispute_with_files_and_downloads_one(portal, page, tmp_path: Path):
    number = portal.roles.open.display_number
    (tmp_path / "cancellations.csv").write_bytes(CSV)
    (tmp_path / "manifest.pdf").write_bytes(PDF)
    (tmp_path / "photo.pdf").write_bytes(PNG)  # a PNG under a PDF's name

    page.goto("/")
    _, detail = expand(page, number)
    detail.get_by_text("Dispute this invoice").click()
    detail.get_by_label("What is wrong with this invoice?").fill("Cancelled orders billed.")
    files = detail.get_by_label("Attach files (optional)")
    files.set_input_files([tmp_path / "cancellations.csv", tmp_path / "photo.pdf"])
    detail.get_by_role("button", name="Open dispute").click()
    error = page.locator(f"#dispute-files-{portal.roles.open.pk}-error")
    expect(error).to_contain_text("“photo.pdf” does not look like its name says")
    assert not DisputeAttachment.objects.exists()
    shot(page, portal, "dispute-attachment-refused")

    # The form came back with what was typed; files must be chosen again (browsers forbid
    # a page to fill a file input).
    detail = page.locator(f"#invoice-detail-{number}")
    expect(detail.get_by_label("What is wrong with this invoice?")).to_have_value(
        "Cancelled orders billed."
    )
    detail.get_by_label("Attach files (optional)").set_input_files(
        [tmp_path / "cancellations.csv", tmp_path / "manifest.pdf"]
    )
    detail.get_by_role("button", name="Open dispute").click()
    listed = detail.locator("article.dispute ul.attachments li")
    expect(listed).to_have_count(2)
    expect(listed.first).to_contain_text("cancellations.csv")
    shot(page, portal, "dispute-attachments")

    with page.expect_download() as info:
        listed.nth(1).get_by_role("link").click()
    download = info.value
    assert download.suggested_filename == "manifest.pdf"
    assert Path(download.path()).read_bytes() == PDF
