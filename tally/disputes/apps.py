from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "tally.disputes"
    label = "disputes"
