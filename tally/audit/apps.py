from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tally.audit"
    label = "audit"
