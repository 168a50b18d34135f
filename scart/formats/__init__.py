"""Django's format overrides (``FORMAT_MODULE_PATH``): the admin and any template that leaves the
format to Django show moments as the workspace pages do, ``2026-11-21 15:53:07``."""
