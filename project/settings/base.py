"""Settings shared by every environment. Every value comes from the environment with a safe
default; the defaults give the embedded set-up: SQLite, eager Celery, local files, console mail.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY", "embedded-insecure-key-change-me-in-production")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "import_export",
    "simple_history",
    "django_celery_beat",
    "axes",
    "viewflow",
    "viewflow.workflow",
    "points",
    "flows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "project.middleware.AuditDenialsMiddleware",  # sees every 403 below it
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "project.middleware.LoginRequiredMiddleware",
    "flows.tasklock.QueuePermissionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "viewflow.middleware.SiteMiddleware",
    "project.middleware.SiteForEveryPageMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when they begin, so concurrent requests queue instead of
    # failing with "database is locked" when a reader turns into a writer.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login protection (django-axes): 5 failed logins lock the username until an admin unlocks
# it in the admin (Axes → access attempts) or with `manage.py axes_reset_username`.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks to lock by IP address as well. We lock the account itself, which no
# rotation of IP, user agent or cookies gets round; locking by IP would lock out a whole
# factory behind one NAT address after five typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_COOLOFF_TIME = None
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous users have no rights

LANGUAGE_CODE = env("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
# Our catalogue first (makemessages writes there); then zh-hans for django-viewflow's own
# strings, whose shipped zh_Hans catalogue is empty.
LOCALE_PATHS = [BASE_DIR / "project" / "locale", BASE_DIR / "project" / "locale_vendor"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
MEDIA_URL = "media/"
# Uploaded files live outside the static root and are served only through permission-checked views.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STATIC_COMPRESS = env_bool("STATIC_COMPRESS", True)  # gzip/brotli copies at collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "project.storage.StaticStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "points@localhost")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not env("CELERY_BROKER_URL"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Content Security Policy (django-csp 4): same-origin everything, no inline scripts but nonced.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'", "'unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Bulk import of events and attendance (flows.imports): the largest file and row count.
POINTS_IMPORT_MAX_MB = int(env("POINTS_IMPORT_MAX_MB", "10"))
POINTS_IMPORT_MAX_ROWS = int(env("POINTS_IMPORT_MAX_ROWS", "50000"))
# Long PDFs are laid out in parts in forked processes (points.pdf): how many such layouts
# may run at once on this machine, over all web workers (default: one per usable core),
# and the directory of their lock files (default: one in the temporary directory).
POINTS_PDF_FORK_SLOTS = int(env("POINTS_PDF_FORK_SLOTS", "0")) or None
POINTS_PDF_SLOT_DIR = env("POINTS_PDF_SLOT_DIR") or None
# Member pickers (a notice's members, a recorder's declare-for) longer than this are
# searched by name or employee number instead of drawn whole (flows.member_search).
POINTS_MEMBER_SEARCH_ABOVE = int(env("POINTS_MEMBER_SEARCH_ABOVE", "100"))
# A form sent twice, or an API request repeated with its Idempotency-Key, acts once while
# its token is remembered: this many days (flows.once).
POINTS_IDEMPOTENCY_DAYS = int(env("POINTS_IDEMPOTENCY_DAYS", "30"))

VIEWFLOW: dict[str, object] = {}

# Every django-filter FilterSet's drop-downs: the empty choice filters nothing, so it reads
# "All" (全部), not django-filter's "---------".
FILTERS_EMPTY_CHOICE_LABEL = _("All")

# The REST API (flows.api) under /api/v1/: token or session authentication, JSON errors
# {"errors": [{"code", "message", "field"}]}, pages on every list, django-filter filters.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",  # first: anonymous → 401
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "flows.api.base.Pages",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "flows.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": env("API_TOKEN_THROTTLE", "10/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "积分制管理平台 API",
    "DESCRIPTION": (
        "Points system: declarations, reviews, award notices, publicity, appeals, "
        "the ledger, rankings and the redemption shop. Authenticate with "
        "`Authorization: Token <key>` (POST /api/v1/tokens/) or a browser session."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "flows.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # WeasyPrint logs every rendering step at INFO; keep its warnings only.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

CELERY_BEAT_SCHEDULE = {
    "post-fixed-points-monthly": {
        "task": "points.tasks.post_fixed_points_for_last_month",
        "schedule": crontab(minute=30, hour=1, day_of_month=1),
    },
    "declaration-deadlines-hourly": {
        "task": "flows.tasks.declaration_deadlines",
        "schedule": crontab(minute=5),
    },
    "close-publicity-windows": {
        "task": "flows.tasks.close_publicity_windows",
        "schedule": crontab(minute="*/15"),
    },
    "appeal-deadlines-hourly": {
        "task": "flows.tasks.appeal_deadlines",
        "schedule": crontab(minute=10),
    },
    "award-prizes-daily": {
        "task": "points.tasks.award_prizes_for_closed_months",
        "schedule": crontab(minute=20, hour=2),
    },
    "notification-digests-daily": {
        "task": "flows.tasks.notification_digests",
        "schedule": crontab(minute=0, hour=18),
    },
    "forget-idempotency-keys-daily": {
        "task": "flows.tasks.forget_idempotency_keys",
        "schedule": crontab(minute=40, hour=3),
    },
}
