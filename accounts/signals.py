"""Audit receivers: logins, lockouts, and changes to users, roles, rules and contacts (made in the
admin or anywhere else), each with the values before and after."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext_noop

from accounts.context import current_request
from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from scart.sealing import SealedTextField

User = get_user_model()
# Fields never copied into the trail; a sealed field (`scart.sealing`) is written as `SEALED` when
# set, so the trail says that a secret changed, never what it is.
_SECRET_FIELDS = {"password"}
SEALED = "[sealed]"


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(
        action=AuditAction.LOGIN,
        actor=user,
        audit=AuditContext.from_request(request),
        obj=user,
        summary=gettext_noop("password accepted"),
        summary_params={},
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action=AuditAction.LOGOUT, actor=user, audit=AuditContext.from_request(request), obj=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    name = str(credentials.get("username", ""))[:150]
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        actor=None,
        audit=AuditContext.from_request(request),
        object_type="auth.user",
        object_id=name[:64],
        summary=gettext_noop("failed login as %(name)r"),
        summary_params={"name": name},
    )


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    audit_record(
        action=AuditAction.LOCKED_OUT,
        actor=None,
        audit=AuditContext.from_request(request),
        object_type="auth.user",
        object_id=(username or "")[:64],
        summary=gettext_noop("too many failed logins as %(name)r: locked out"),
        summary_params={"name": username},
    )


def _values(instance: Model) -> dict[str, Any]:
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in _SECRET_FIELDS:
            continue
        value = field.value_from_object(instance)
        values[field.name] = value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)
    return values


def _masked(instance: Model, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as the trail keeps them: each sealed field `SEALED` when set."""
    sealed = {f.name for f in instance._meta.concrete_fields if isinstance(f, SealedTextField)}
    return {k: (SEALED if v else v) if k in sealed else v for k, v in values.items()}


# The models whose saves and deletes are audited, with their action. Apps above accounts add theirs
# through `audited_register` in their ready() (routing: providers and domain rules).
_AUDITED: dict[type[Model], AuditAction] = {}


def _before_save(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or kwargs.get("raw") or (update_fields and set(update_fields) <= {"last_login"}):
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _values(old) if old is not None else None  # type: ignore[attr-defined]


def _after_save(sender: type[Model], instance: Model, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    after = _values(instance)
    before = instance.__dict__.pop("_audit_before", None)
    if not created and before is None:
        return  # a login writing last_login only (see `_before_save`); it has its own entry
    if before is not None:
        changed = {k for k in after if before.get(k) != after[k]}
        if not changed or changed <= {"last_login"}:
            return  # nothing an auditor needs (a login writes last_login and has its own entry)
        before = _masked(instance, {k: before[k] for k in sorted(changed)})
        after = {k: after[k] for k in sorted(changed)}
    after = _masked(instance, after)
    audit_record(
        action=_AUDITED[sender],
        audit=AuditContext.from_request(current_request.get()),
        obj=instance,
        summary=gettext_noop("created %(model)s %(object)s")
        if created
        else gettext_noop("changed %(model)s %(object)s"),
        summary_params={"model": sender._meta.label_lower, "object": str(instance)},
        data={"before": before, "after": after},
    )


def _after_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    audit_record(
        action=_AUDITED[sender],
        audit=AuditContext.from_request(current_request.get()),
        obj=instance,
        summary=gettext_noop("deleted %(model)s %(object)s"),
        summary_params={"model": sender._meta.label_lower, "object": str(instance)},
        data={"before": _masked(instance, _values(instance)), "after": None},
    )


# What a change of a person's groups (roles) did, by the m2m action.
_GROUP_SUMMARIES = {
    "post_add": gettext_noop("added %(groups)s for %(user)s"),
    "post_remove": gettext_noop("removed %(groups)s for %(user)s"),
    "post_clear": gettext_noop("cleared %(groups)s for %(user)s"),
}


@receiver(m2m_changed, sender=User.groups.through)
def _groups_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, User):
        return

    names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    audit_record(
        action=AuditAction.ROLE_CHANGED,
        audit=AuditContext.from_request(current_request.get()),
        obj=instance,
        summary=_GROUP_SUMMARIES[action]
        if names or action != "post_clear"
        else gettext_noop("cleared the roles of %(user)s"),
        summary_params={"groups": ", ".join(names), "user": str(instance)},
        data={"change": action.removeprefix("post_"), "groups": names},
    )


def audited_register(model: type[Model], action: AuditAction) -> None:
    """Audit every save and delete of ``model`` (values before and after) as ``action``."""
    _AUDITED[model] = action
    pre_save.connect(_before_save, sender=model, dispatch_uid=f"audit-pre-{model._meta.label}")
    post_save.connect(_after_save, sender=model, dispatch_uid=f"audit-post-{model._meta.label}")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=f"audit-del-{model._meta.label}")


audited_register(User, AuditAction.USER_CHANGED)
