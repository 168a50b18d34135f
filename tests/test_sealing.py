"""Secrets sealed at rest (scart.sealing): what is stored gives nothing away, and keys rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
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
