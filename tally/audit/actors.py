"""Who makes a change: a signed-in user, or a named part of the system.

Every write service takes an `Actor`; there is no anonymous change. A user is stored in
the audit row by id and email; a system actor by its label, with no id. This module
loads before Django is set up (the benchmark, settings), so it imports no model.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # a model class: importing it needs the app registry, this module does not
    from django.contrib.auth.base_user import AbstractBaseUser


class SystemActor(StrEnum):
    """The parts of Tally that change things on nobody's behalf. The value is the
    `actor_label` stored in the audit trail."""

    REMINDER_SENDER = "system:reminder-sender"
    COMMAND_LINE = "system:command-line"
    WORKER = "system:worker"
    API = "system:api"
    DEMO = "system:demo"
    BENCHMARK = "system:benchmark"
    TESTS = "system:tests"


Actor: TypeAlias = "AbstractBaseUser | SystemActor"
