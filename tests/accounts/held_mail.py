"""An email backend that holds every message until a test lets it go: a mail server that
is slow to answer, to show who waits for it."""

import threading

from django.core.mail.backends.locmem import EmailBackend

release = threading.Event()
held = threading.Event()


class HeldEmailBackend(EmailBackend):
    def send_messages(self, messages):
        held.set()
        release.wait(10)
        return super().send_messages(messages)
