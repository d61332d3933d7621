"""People who sign in: client users (bound to one client), operators, platform owners."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    CLIENT_USER = "client_user", "Client user"
    OPERATOR = "operator", "Operator"
    PLATFORM_OWNER = "platform_owner", "Platform owner"


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("role", Role.PLATFORM_OWNER)
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="client_user_has_exactly_one_client",
                condition=(Q(role=Role.CLIENT_USER) & Q(client__isnull=False))
                | (~Q(role=Role.CLIENT_USER) & Q(client__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_operator(self) -> bool:
        return self.role in (Role.OPERATOR, Role.PLATFORM_OWNER)


class ThrottleScope(models.TextChoices):
    PAIR = "pair", "Email and address"
    ADDRESS = "address", "Address"
    RESET_EMAIL = "reset_mail", "Password resets to an email"
    RESET_ADDRESS = "reset_addr", "Password resets from an address"


class LoginThrottle(models.Model):
    """Failed sign-ins, counted per (email, address) pair and per address — never per email
    alone, so nobody elsewhere can lock a real user out — and password-reset requests, per
    address and per mailbox ("failures" are then requests). Kept in the database so every
    worker process sees the same counts. See tally.accounts.throttle."""

    scope = models.CharField(max_length=10, choices=ThrottleScope.choices)
    # Keyed HMACs, not the values: no typed emails (sometimes a password typed in the wrong
    # field) or addresses are stored in clear.
    key = models.CharField(max_length=64)
    # For pair rows, the HMAC of the email alone, so a completed password reset can clear
    # every pair for that account; empty for address rows.
    account = models.CharField(max_length=64, blank=True, db_index=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    last_failure_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lockouts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="login_throttle_one_row_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:12]}…"
