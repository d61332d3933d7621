"""Settings for Tally. Every value a deployment changes comes from the environment."""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TALLY_VAR_DIR", BASE_DIR / "var"))
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)

DEBUG = os.environ.get("TALLY_DEBUG", "0") == "1"
HTTPS = os.environ.get("TALLY_HTTPS", "0") == "1"
# Served for real (TALLY_HTTPS=1), nothing of the demo may reach a client: no demo secret
# key, no demo company on invoices, no demo bank account. Each setting below read with
# `_own` must then be set; Tally refuses to start and names every one missing.
_MISSING: list[str] = []


def _own(name: str, demo: str, why: str) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if HTTPS:
        _MISSING.append(f"{name} ({why})")
        return ""
    return demo


SECRET_KEY = _own(
    "TALLY_SECRET_KEY",
    "dev-only-insecure-key-change-me-in-production",
    "a long random value: sessions, reset links, list cursors and the login throttle hang on it",
)
ALLOWED_HOSTS = os.environ.get("TALLY_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "tally.accounts",
    "tally.clients",
    "tally.operations",
    "tally.rating",
    "tally.invoicing",
    "tally.payments",
    "tally.reminders",
    "tally.disputes",
    "tally.internal_notes",
    "tally.audit",
    "tally.portal",
    "tally.console",
    "tally.demo",
    "tally.worker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tally.web.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tally.urls"
WSGI_APPLICATION = "tally.wsgi.application"

TEMPLATES = [
    # Every page: Jinja2 (`tally/jinja2/`, `<app>/jinja2/`), see tally/jinja.py. First, so a
    # page's name is looked up here before Django's engine.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "tally" / "jinja2"],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "tally.jinja.environment",
            "context_processors": [
                "django.contrib.messages.context_processors.messages",
                "tally.web.context",
            ],
        },
    },
    # Django's admin, and the plain-text emails (`<app>/templates/`).
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(url: str | None) -> dict:
    """SQLite by default; PostgreSQL when DATABASE_URL says postgres://."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "tally.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # A WAL that grew during a bulk write is cut back to 64 MiB once it has
                # been copied into the database (sqlite_bulk.checkpoint_later).
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA journal_size_limit=67108864;",
            },
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "tally",
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "CONN_MAX_AGE": 60,
        # No JIT: on a database without planner statistics, estimates of correlated
        # subqueries run into the millions and PostgreSQL spent seconds compiling a
        # query that runs in milliseconds (bench/RESULTS.md, "Console (issue 12)").
        "OPTIONS": {"options": "-c jit=off"},
    }


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}
# Work outside the request goes through django-tasks (Django 6's django.tasks, backported)
# into the database, and `tally worker` runs it (tally/worker/). Another backend (RQ,
# Celery) replaces this one when one database is no longer enough.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# ModelBackend plus sign-in throttling per (email, address) and per address.
AUTHENTICATION_BACKENDS = ["tally.accounts.backends.ThrottledModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tally" / "static"]
# Served by WhiteNoise straight from the apps' static folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Security: secure cookies whenever served over HTTPS (TALLY_HTTPS=1 in production).
# Behind a proxy that ends TLS, TALLY_PROXY_SSL_HEADER names the header it sets
# (X-Forwarded-Proto: https) — only when the proxy overwrites what clients send.
if os.environ.get("TALLY_PROXY_SSL_HEADER"):
    _header = os.environ["TALLY_PROXY_SSL_HEADER"].upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (f"HTTP_{_header}", "https")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Pages hand htmx the CSRF token themselves, so no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
PASSWORD_RESET_TIMEOUT = 60 * 60  # a reset link works for one hour
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Password-reset emails leave after the response (tally.accounts.mail): its timing must
# not say whether the address has an account.
TALLY_MAIL_IN_BACKGROUND = os.environ.get("TALLY_MAIL_IN_BACKGROUND", "1") == "1"
EMAIL_BACKEND = os.environ.get(
    "TALLY_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = str(VAR_DIR / "outbox")
EMAIL_HOST = os.environ.get("TALLY_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("TALLY_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = _own(
    "TALLY_FROM_EMAIL", "billing@tally.example", "the address reminders are sent from"
)

# Where clients reach Tally, for the links in emails (a reminder links to its invoice in
# the portal): scheme, host and any path prefix, no trailing slash needed.
TALLY_BASE_URL = _own(
    "TALLY_BASE_URL",
    "http://127.0.0.1:8000",
    "the address clients open Tally at, e.g. https://billing.example.com, for links in emails",
).rstrip("/")

# The 3PL running this Tally: printed on invoices and in reminder emails.
TALLY_OPERATOR_NAME = _own(
    "TALLY_OPERATOR_NAME", "Northwind Logistics", "your company's name, on every invoice"
)
# Who the invoice is from, as an AP department files it: address lines ("\n" between them),
# a contact, and the tax registration that taxed invoices must show (VAT, GST/HST, EIN).
TALLY_OPERATOR_ADDRESS = _own(
    "TALLY_OPERATOR_ADDRESS",
    "2200 Harbor Industrial Pkwy\nPort City, CA 94607\nUnited States",
    "the address invoices come from; \\n between lines",
).replace("\\n", "\n")
TALLY_OPERATOR_CONTACT = _own(
    "TALLY_OPERATOR_CONTACT",
    "billing@northwind.example",
    "where clients write about invoices",
)
# Not every operator has one to print, so it is never required, but the demo's is never
# printed for real.
TALLY_OPERATOR_TAX_ID = os.environ.get("TALLY_OPERATOR_TAX_ID", "" if HTTPS else "EIN 94-1234567")
# How to pay, on invoices, in reminders and in the portal: bank details differ by currency
# (a EUR client pays by SEPA to an IBAN, a USD client by ACH or wire), so they are set per
# currency, TALLY_PAYMENT_INSTRUCTIONS_<ISO code> (e.g. TALLY_PAYMENT_INSTRUCTIONS_USD);
# "\n" starts a new line. An invoice in a currency without any tells the client to ask
# TALLY_OPERATOR_CONTACT: one currency's account is never offered for another's. The
# demo's texts apply only while none is set: an operator who sets any of their own must
# never have a client pay into a demo account.
_DEMO_PAYMENT_INSTRUCTIONS = {
    "USD": "ACH or wire: Northwind Logistics, First Harbor Bank\n"
    "Routing 021000021, account 4410 2231 8890",
    "EUR": "SEPA transfer: Northwind Logistics B.V.\nIBAN NL91 ABNA 0417 1643 00\nBIC ABNANL2A",
    "GBP": "Faster Payments or BACS: Northwind Logistics UK Ltd\n"
    "Sort code 20-00-00, account 55779911",
    "CAD": "EFT or wire: Northwind Logistics Canada Inc., Bank of Montreal\n"
    "Institution 001, transit 00012, account 1002 3345",
    "JPY": "Bank transfer (furikomi): Northwind Logistics K.K.\n"
    "MUFG Bank, Shinagawa branch (201), ordinary account 1234567",
}
if os.environ.get("TALLY_PAYMENT_INSTRUCTIONS", "").strip():
    raise ImproperlyConfigured(
        "TALLY_PAYMENT_INSTRUCTIONS is not read: bank details are set per currency, so that "
        "no client is sent to another currency's account. Name its currency, e.g. "
        "TALLY_PAYMENT_INSTRUCTIONS_USD."
    )
_OWN_INSTRUCTIONS = {
    name.removeprefix("TALLY_PAYMENT_INSTRUCTIONS_"): text.replace("\\n", "\n")
    for name, text in os.environ.items()
    if re.fullmatch(r"TALLY_PAYMENT_INSTRUCTIONS_[A-Z]{3}", name) and text.strip()
}
if HTTPS and not _OWN_INSTRUCTIONS:
    _MISSING.append(
        "TALLY_PAYMENT_INSTRUCTIONS_<currency> (how clients pay you: your bank details for "
        "each currency you bill, printed on invoices, e.g. TALLY_PAYMENT_INSTRUCTIONS_USD)"
    )
TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = _OWN_INSTRUCTIONS or _DEMO_PAYMENT_INSTRUCTIONS
if _MISSING:
    raise ImproperlyConfigured(
        "TALLY_HTTPS=1 serves Tally for real and needs settings of your own:\n  "
        + "\n  ".join(_MISSING)
    )

# Logs go to the console (stderr), each line with its time, level and module; the level
# is TALLY_LOG_LEVEL (default INFO). Every failure Tally swallows or retries is logged
# with its module's logger (logging.getLogger(__name__)). To send logs elsewhere, add a
# handler and name it in "root", e.g. a file rotated daily:
#     "file": {"class": "logging.handlers.TimedRotatingFileHandler",
#              "filename": "/var/log/tally/tally.log", "when": "midnight",
#              "formatter": "plain"},
# or syslog ("logging.handlers.SysLogHandler", "address": "/dev/log"); a service manager
# (systemd, Docker) already collects the console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TALLY_LOG_LEVEL", "INFO")},
}
