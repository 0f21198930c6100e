from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from generations.api import openai, v1

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", v1.api.urls),
    path("v1/", openai.api.urls),
    path("", include("generations.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
