from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("login/verify/", views.login_verify, name="login-verify"),
    path("login/enrol/", views.login_enrol, name="login-enrol"),
    path("login/enrol/<str:key>/", views.login_enrol_link, name="login-enrol-link"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/", views.my_settings, name="account-settings"),
]
