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
    # A client user who also keeps the client's billing contacts (who receive invoices
    # and reminders). Only a client user can be one.
    is_client_admin = models.BooleanField(default=False)
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
            models.CheckConstraint(
                name="client_admin_is_a_client_user",
                condition=Q(is_client_admin=False) | Q(role=Role.CLIENT_USER),
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


class SignInSession(models.Model):
    """One browser signed in to one account, so its owner can see where they are signed in
    and end it. The session itself is Django's; this row names it and says where it began.
    A row whose session has expired is not shown, and is purged with the sign-in counters."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    signed_in_at = models.DateTimeField()
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "signed_in_at"], name="signin_user_time")]

    def __str__(self) -> str:
        return f"{self.user} since {self.signed_in_at:%Y-%m-%d %H:%M}"
