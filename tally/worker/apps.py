from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

from tally import jobs


class WorkerConfig(AppConfig):
    name = "tally.worker"
    label = "worker"

    def ready(self) -> None:
        """Give every job lower layers may request (`tally.jobs`) its task."""
        from . import tasks

        for job in jobs.Job:
            if hasattr(tasks, job.value):
                jobs.register(job, getattr(tasks, job.value))
        if missing := jobs.unregistered():
            raise ImproperlyConfigured(f"no worker task for the jobs {missing}")
