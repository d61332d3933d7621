from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "tally.operations"
    label = "operations"
