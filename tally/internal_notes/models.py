"""Operators' private notes on disputes. Never shown to clients.

The foreign key has no reverse accessor (related_name="+"), the portal's database role
has no grant on this table, and an import contract keeps client-facing code out.
"""

from django.db import models


class InternalNote(models.Model):
    dispute = models.ForeignKey("disputes.Dispute", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dispute", "created_at"], name="internal_note_dispute_idx")]
