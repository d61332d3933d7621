"""The console's own rows: which of its forms have been submitted.

A console form carries a one-time key drawn when the page was rendered. The first
submission claims it, with an insert the unique constraint serialises, in the same
transaction as the work; a second submission of the same form (a double click, a resent
request) finds the key taken and does nothing. Domain data is written by the services
only; these rows say nothing about a client and are not audited.
"""

from django.db import models


class FormSubmission(models.Model):
    key = models.UUIDField(unique=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.key)
