"""Sign-in and password-reset forms."""

from typing import Any

from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError

from . import mail, services, throttle
from .models import User

NO_MATCH = "That email and password don’t match an account. Check both and try again."


class SignInForm(auth_forms.AuthenticationForm):
    """One answer for an unknown email, a wrong password and an inactive account; a
    throttled attempt gets that same answer plus how long to wait."""

    error_messages = {"invalid_login": NO_MATCH, "inactive": NO_MATCH}

    def clean_username(self) -> str:
        return throttle.normalize_email(self.cleaned_data["username"])

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError as refused:
            wait = throttle.wait_seconds(
                self.cleaned_data.get("username") or "", throttle.client_address(self.request)
            )
            if not wait:
                raise
            n = throttle.minutes(wait)
            raise ValidationError(
                [
                    ValidationError(NO_MATCH, code="invalid_login"),
                    ValidationError(
                        f"Too many attempts — try again in {n} minute{'s' if n != 1 else ''}.",
                        code="throttled",
                    ),
                ]
            ) from refused

    def get_invalid_login_error(self) -> ValidationError:
        return ValidationError(NO_MATCH, code="invalid_login")


class NewPasswordForm(auth_forms.SetPasswordForm):
    """The last step of a password reset: validated by settings' password validators,
    saved (and audited) by the accounts service."""

    user: User

    def save(self, commit: bool = True) -> User:
        return services.reset_password(
            actor=self.user, user=self.user, password=self.cleaned_data["new_password1"]
        )


class ChangePasswordForm(auth_forms.PasswordChangeForm):
    """Django's form: the current password, then the new one twice, checked by the
    settings' validators. The accounts service saves it (`services.change_password`)."""

    def save(self, commit: bool = True) -> User:
        raise NotImplementedError("saved by services.change_password")


class ResetRequestForm(auth_forms.PasswordResetForm):
    """Django's reset form, its email sent after the response (see tally.accounts.mail)."""

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        send = super().send_mail
        mail.send_soon(lambda: send(*args, **kwargs))
