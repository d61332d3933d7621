from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "tally.reminders"
    label = "reminders"
