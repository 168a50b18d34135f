from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Resolution, notices and tracking"

    def ready(self) -> None:
        from routing import rules  # noqa: F401  (connects the signals that apply rule changes)
        from routing.hooks import hooks_connect
        from routing.notices import signals  # noqa: F401  (plans notices when a provider or its contact changes)

        hooks_connect()
