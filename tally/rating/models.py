"""Rate cards: what each kind of event costs a client, over time."""

from django.db import models
from django.db.models import F, Q


class RateCard(models.Model):
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="rate_cards"
    )
    name = models.CharField(max_length=200, blank=True)
    effective_from = models.DateField()
    # Exclusive end; null means open-ended.
    effective_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="rate_card_period_ordered",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
            ),
            models.UniqueConstraint(
                fields=["client", "effective_from"], name="rate_card_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'Rate card'} from {self.effective_from}"


class RatePrice(models.Model):
    # The card's client, on the price itself: client-visible tables carry their client
    # (the portal's estimate of the charges to come prices them in the client's scope).
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="prices")
    kind = models.CharField(max_length=32)
    # Micro units of the client's currency (0.0450 = 45_000): sub-cent prices are exact.
    unit_price_micros = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rate_card", "kind"], name="rate_price_one_per_kind"),
            models.CheckConstraint(
                name="rate_price_non_negative", condition=Q(unit_price_micros__gte=0)
            ),
        ]
