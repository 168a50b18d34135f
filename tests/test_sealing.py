"""Secrets sealed at rest (scart.sealing): what is stored gives nothing away, and keys rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from scart.sealing import PREFIX, SealedTextField, seal, sealed_by_first_key, unseal

NEW, OLD = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_sealed_value_hides_the_secret_and_opens_again():
    with override_settings(SCART_FIELD_KEYS=[NEW]):
        stored = seal("JBSWY3DPEHPK3PXP")
        assert stored.startswith(PREFIX)
        assert "JBSWY3DPEHPK3PXP" not in stored
        assert seal("JBSWY3DPEHPK3PXP") != stored  # each seal differs: nothing to compare in SQL
        assert unseal(stored) == "JBSWY3DPEHPK3PXP"


def test_a_value_from_before_sealing_reads_as_it_is():
    assert unseal("plain hex 3132") == "plain hex 3132"


def test_an_old_key_still_opens_until_rotation_and_a_removed_one_does_not():
    with override_settings(SCART_FIELD_KEYS=[OLD]):
        stored = seal("api token")
    with override_settings(SCART_FIELD_KEYS=[NEW, OLD]):
        assert unseal(stored) == "api token"
        assert not sealed_by_first_key(stored)
        assert sealed_by_first_key(seal("api token"))
    with override_settings(SCART_FIELD_KEYS=[NEW]), pytest.raises(ImproperlyConfigured, match="seal_rotate"):
        unseal(stored)


def test_a_key_that_is_not_a_key_is_a_clear_configuration_error():
    with override_settings(SCART_FIELD_KEYS=["not-a-key"]), pytest.raises(ImproperlyConfigured, match="Fernet key"):
        seal("x")


def test_the_field_seals_on_the_way_in_and_opens_on_the_way_out():
    field = SealedTextField()
    assert field.editable is False  # no model form, the admin's included, ever shows it
    with override_settings(SCART_FIELD_KEYS=[NEW]):
        stored = field.get_prep_value("secret")
        assert stored.startswith(PREFIX)
        assert field.get_prep_value(stored) == stored  # sealed once, not twice
        assert field.from_db_value(stored, None, None) == "secret"
        assert field.get_prep_value("") == ""
    _name, path, _args, kwargs = field.deconstruct()
    assert path == "scart.sealing.SealedTextField" and "editable" not in kwargs


# Fields whose names say "secret" but hold none: a claim's id between two workers.
NOT_SECRETS = {"routing.notice.claim_token"}
SECRET_WORDS = ("secret", "password", "token", "private", "credential", "api_key")


def test_every_stored_secret_is_sealed_or_hashed():
    """A field named like a secret holds it sealed (recoverable: we must use it) or only its hash
    (checked, never used: staff tokens, partner keys, link keys)."""
    unsealed = []
    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "reports", "routing", "privacy", "stats", "workspace"}:
            continue
        for field in model._meta.concrete_fields:
            label = f"{model._meta.label_lower}.{field.name}"
            named_secret = any(word in field.name for word in SECRET_WORDS)
            if not named_secret or label in NOT_SECRETS or field.name.endswith("_hash"):
                continue
            if not isinstance(field, SealedTextField) and field.get_internal_type() != "BooleanField":
                unsealed.append(label)
    assert unsealed == []
