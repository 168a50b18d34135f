"""The overriding rule: scart stores URLs and metadata, never content.

This test fails as soon as any model gains a field that could hold file or binary content.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

FORBIDDEN = (models.FileField, models.ImageField, models.BinaryField, models.FilePathField)
SUSPICIOUS_NAMES = ("content", "body", "blob", "payload", "screenshot", "thumbnail", "image", "attachment", "file")


def test_no_model_has_a_field_for_file_or_binary_content():
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, FORBIDDEN)
    ]
    assert offenders == []


def test_no_scart_model_has_a_field_named_like_content():
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in {"reports", "routing"}
        for field in model._meta.get_fields()
        if any(part in field.name.lower() for part in SUSPICIOUS_NAMES)
    ]
    assert offenders == []
