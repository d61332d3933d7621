"""Which files a dispute's message may carry: decided from their bytes, not their names."""

import pytest

from tally.disputes.attachments import MAX_FILES, Upload, accept, safe_filename

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
CSV = b"order,cancelled at\nSO-1001,2026-11-03 14:05\nSO-1002,2026-11-03 15:40\n"


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("manifest.pdf", PDF, "application/pdf"),
        ("pallet.PNG", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("cancellations.csv", CSV, "text/csv"),
        ("bom.csv", b"\xef\xbb\xbf" + CSV, "text/csv"),
    ],
)
def test_accepted_files_get_the_type_their_bytes_say(name, data, content_type):
    accepted, problems = accept([Upload(name, data)])
    assert problems == []
    assert [(a.filename, a.content_type, a.data) for a in accepted] == [(name, content_type, data)]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("invoice.pdf", PNG, "its content is image/png, so its name should end .png"),
        (
            "photo.png",
            b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 20,
            "is not a PDF, PNG, JPEG or CSV",
        ),
        ("list.csv", b"a,b\n\x00\x01", "is not a PDF, PNG, JPEG or CSV"),
        ("script.csv.html", b"<script>alert(1)</script>", "its name should end .csv"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_a_file_whose_bytes_disagree_or_are_not_accepted_is_refused(name, data, says):
    accepted, problems = accept([Upload(name, data)])
    assert accepted == []
    assert len(problems) == 1 and says in problems[0].message
    assert problems[0].field == "attachments"


def test_size_and_count_are_limited(settings):
    settings.TALLY_ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = PDF + b"0" * (1024 * 1024)
    _, problems = accept([Upload("big.pdf", big)])
    assert [p.message for p in problems] == ["“big.pdf” is larger than 1 MB"]
    _, problems = accept([Upload(f"{i}.pdf", PDF) for i in range(MAX_FILES + 1)])
    assert [p.message for p in problems] == [f"at most {MAX_FILES} files per message"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/cancellations.csv", "cancellations.csv"),
        ("C:\\Users\\ap\\Desktop\\scan.pdf", "scan.pdf"),
        ('we"ird\r\nname;.pdf', "we_irdname_.pdf"),
        ("   ", "attachment"),
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_file_names_are_kept_without_paths_or_header_breaking_characters(sent, kept):
    assert safe_filename(sent) == kept
