from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "tally.rating"
    label = "rating"
