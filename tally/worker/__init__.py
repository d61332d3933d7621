"""Work outside the request: the task queue (django-tasks, database backend) and its worker.

`tally worker` runs the queue. Tasks are defined in `tasks.py` with django-tasks' `@task`
(Django 6's `django.tasks` later, with the imports changed), retried with backoff
(`retry.py`), and the periodic ones are enqueued by the worker itself (`schedule.py`).
"""
