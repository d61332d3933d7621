from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "tally.payments"
    label = "payments"
