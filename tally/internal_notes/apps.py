from django.apps import AppConfig


class InternalNotesConfig(AppConfig):
    name = "tally.internal_notes"
    label = "internal_notes"
