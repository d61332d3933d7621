"""Reading the PDFs the tests render: their text, and each page as a picture to look at."""

import io
from pathlib import Path

import pypdfium2
from pypdf import PdfReader

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def pdf_text(pdf: bytes) -> tuple[int, list[str], str]:
    """Page count, each page's text, and all the text with whitespace made single spaces."""
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    return len(reader.pages), pages, squash("\n".join(pages))


def squash(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def save_artifact(name: str, pdf: bytes) -> list[Path]:
    """Keep the PDF and a PNG of each page (drawn by PDFium) for a person to look at; the
    pictures' paths. Drawing every page also checks that a second PDF reader opens it."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(pdf)
    for old in ARTIFACTS.glob(f"{path.stem}-[0-9]*.png"):
        old.unlink()
    pictures = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for i, page in enumerate(document, start=1):
            picture = path.with_name(f"{path.stem}-{i}.png")
            page.render(scale=80 / 72).to_pil().save(picture)
            pictures.append(picture)
    finally:
        document.close()
    return pictures
