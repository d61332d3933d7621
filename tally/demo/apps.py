from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "tally.demo"
    label = "demo"
