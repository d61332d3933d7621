from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "tally.portal"
    label = "portal"
