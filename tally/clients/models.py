"""The client: the tenant. Everything a client may see carries its id."""

from django.db import models
from django.db.models import Q


class Client(models.Model):
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40, unique=True)
    currency = models.CharField(max_length=3)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    time_zone = models.CharField(max_length=64, default="UTC")
    # How emails to the client write amounts and dates (a CLDR locale, e.g. de_DE).
    locale = models.CharField(max_length=16, default="en_US")
    # Basis points of a percent: 8.25% is 825. Null means no tax is charged.
    tax_rate_bp = models.PositiveIntegerField(null=True, blank=True)
    address = models.TextField(blank=True)
    reminder_policy = models.ForeignKey(
        "reminders.ReminderPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Overrides the default reminder policy for this client.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="client_currency_is_iso", condition=Q(currency__regex=r"^[A-Z]{3}$")
            ),
            models.CheckConstraint(
                name="client_tax_rate_at_most_100pct", condition=Q(tax_rate_bp__lte=10000)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class BillingContact(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="billing_contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "email"], name="billing_contact_unique_per_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
