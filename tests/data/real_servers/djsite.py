"""A minimal Django project with django-oauth-toolkit, for capture.py (not a test)."""

# ruff: noqa: E402  (Django must be configured before its modules are imported)

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="capture-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "oauth2_provider",
    ],
    MIDDLEWARE=["oauth2_provider.middleware.OAuth2TokenMiddleware"],
    AUTHENTICATION_BACKENDS=["oauth2_provider.backends.OAuth2Backend"],
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CAPTURE_DB"]}
    },
    OAUTH2_PROVIDER={"SCOPES": {"read": "Read", "write": "Write"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.http import HttpResponse
from django.urls import include, path
from oauth2_provider.views.generic import ProtectedResourceView, ScopedProtectedResourceView


class Resource(ProtectedResourceView):
    def get(self, request):
        return HttpResponse("ok")


class Scoped(ScopedProtectedResourceView):
    required_scopes = ["write"]

    def get(self, request):
        return HttpResponse("ok")


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/resource", Resource.as_view()),
    path("api/scoped", Scoped.as_view()),
]

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import datetime

    from django.contrib.auth.models import User
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application

    user = User.objects.create_user("alice", password="pw")
    app = Application.objects.create(
        name="app",
        client_id="app-id",
        client_secret="app-secret",
        user=user,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    AccessToken.objects.create(
        user=user,
        application=app,
        token="read-token",
        scope="read",
        expires=timezone.now() + datetime.timedelta(days=1),
    )
    AccessToken.objects.create(
        user=user,
        application=app,
        token="expired-token",
        scope="read",
        expires=timezone.now() - datetime.timedelta(days=1),
    )
