"""The form field both sides use to send files with a dispute's messages."""

from typing import Any

from django import forms

from . import attachments
from .attachments import Upload


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files under one name; what each is, is decided from its bytes by
    `disputes.attachments`. Each is read up to one byte past the size limit, no further."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        megabytes = attachments.max_bytes() // (1024 * 1024)
        super().__init__(
            required=False,
            label="Attach files (optional)",
            help_text=f"PDF, PNG, JPEG or CSV; up to {attachments.MAX_FILES} files "
            f"of {megabytes} MB each.",
            **kwargs,
        )

    def clean(self, data: Any, initial: Any = None) -> list[Upload]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        limit = attachments.max_bytes()
        return [Upload(f.name or "attachment", f.read(limit + 1)) for f in files]
