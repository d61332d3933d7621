from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tally.accounts"
    label = "accounts"
