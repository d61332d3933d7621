from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "tally.worker"
    label = "worker"
