"""Sending an issued invoice's email again: nothing to fill in but the one-time key."""

from .common import KeyedForm


class SendAgainForm(KeyedForm):
    pass
