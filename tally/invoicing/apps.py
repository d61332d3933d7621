from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "tally.invoicing"
    label = "invoicing"
