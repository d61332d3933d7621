from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "tally.console"
    label = "console"
    verbose_name = "Operator console"
