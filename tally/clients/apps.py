from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "tally.clients"
    label = "clients"
