"""Writes that span domain apps: one place above them for what one change brings about.

An app's `services.py` changes its own rows and those of the apps below it; when a change
must also reach an app above (issuing an invoice schedules reminders and applies credit; a
payment that settles an invoice stops its reminders; a resolution credits the invoice), it
is an action here, as Zulip's `actions/` is. The portal, the demo, commands and tests call
the action. Each runs in one transaction and audits every change, as a service does.
"""
