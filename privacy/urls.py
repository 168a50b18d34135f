from __future__ import annotations

from django.urls import path

from privacy import views

urlpatterns = [
    path("privacy/", views.retention, name="privacy-retention"),
    path("privacy/reporter/", views.reporter, name="privacy-reporter"),
]
