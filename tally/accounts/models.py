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
