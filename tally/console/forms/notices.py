"""Answering what a client told the 3PL about money."""

from django import forms

from .common import MAX_TEXT, KeyedForm


class ApplyCreditForm(KeyedForm):
    pass


class DeclineForm(KeyedForm):
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Why (the client reads this)",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Tell the client why."},
    )
