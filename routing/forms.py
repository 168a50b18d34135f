"""Forms of the routing stage: domain rules, with host suffixes checked and normalised the way
reported hosts are (used by the senior analysts' pages and the admin alike)."""

from __future__ import annotations

import re
from typing import Any

import idna
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reports.urls import UrlRejected
from reports.urls.hosts import normalise_host
from routing.models import DomainRule

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_ASCII_LABEL = re.compile(r"[a-z0-9_-]+")
_MAX_LABEL = 63
_MAX_NAME = 253


def suffix_normalise(text: str) -> str:
    """A rule's host suffix as cases store their hosts: lower-case ASCII (IDNA), no dots at either
    end. The conversion is the one `reports.urls.hosts` applies to reported hosts (UTS #46 mapping,
    A-labels, underscores allowed), so that the suffix compares equal to theirs. Raises
    `ValidationError` for anything that is not a host name."""
    value = text.strip()
    if not value:
        raise ValidationError(gettext("Enter a host or domain, e.g. example.com."))
    if _SCHEME.match(value):
        raise ValidationError(gettext("Enter a host name, not a URL: leave out the scheme (http://) and any path."))
    if any(c.isspace() for c in value):
        raise ValidationError(gettext("A host name has no spaces."))
    odd = sorted({c for c in value if c in "/\\?#@:[]*%"})
    if odd:
        hint = gettext(" (a rule already covers every subdomain: leave out '*.')") if "*" in odd else ""
        raise ValidationError(
            gettext("Enter a host name only: %(chars)s cannot appear in one%(hint)s. No path, port or user name.")
            % {"chars": repr("".join(odd)), "hint": hint}
        )
    try:
        mapped = idna.uts46_remap(value, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise ValidationError(gettext("The host contains characters that are not allowed in host names.")) from None
    mapped = mapped.strip(".")
    if not mapped:
        raise ValidationError(gettext("Enter a host or domain, e.g. example.com."))
    labels = []
    for label in mapped.split("."):
        if not label:
            raise ValidationError(gettext("The host has an empty label (two dots in a row)."))
        labels.append(_label_ascii(label))
    host = ".".join(labels)
    if len(host) > _MAX_NAME:
        raise ValidationError(
            gettext("A host name has at most %(max)d characters; this has %(length)d.")
            % {"max": _MAX_NAME, "length": len(host)}
        )
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise ValidationError(
            gettext("That is an IP address, not a host name: add its network to a provider's networks (CIDRs) instead.")
        )
    return host


def _label_ascii(label: str) -> str:
    bad = sorted({c for c in label if c.isascii() and not _ASCII_LABEL.fullmatch(c)})
    if bad:
        raise ValidationError(
            gettext("%(chars)s is not allowed in host names (letters, digits, '-' and '_' are).")
            % {"chars": repr("".join(bad))}
        )
    if label.isascii():
        if label.startswith("xn--"):
            try:
                label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                raise ValidationError(gettext("%(label)s is not valid Punycode.") % {"label": repr(label)}) from None
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except idna.IDNAError:
            # As browsers (and the URL normaliser) do for labels IDNA 2008 refuses, such as emoji.
            ascii_label = "xn--" + label.encode("punycode").decode("ascii")
    if len(ascii_label) > _MAX_LABEL:
        raise ValidationError(
            gettext("A label has at most %(max)d characters; %(start)s… has %(length)d.")
            % {"max": _MAX_LABEL, "start": ascii_label[:20], "length": len(ascii_label)}
        )
    return ascii_label


def origin_normalise(text: str) -> str:
    """The origin server behind a CDN as resolution reads it: a host name or an IP address (an IPv6
    address in brackets), normalised like a reported URL's host."""
    value = text.strip()
    if not value:
        return ""
    if _SCHEME.match(value) or any(c in value for c in "/\\?#@") or any(c.isspace() for c in value):
        raise ValidationError(gettext("Enter the origin's host name or IP address only: no scheme, path or spaces."))
    if ":" in value and not (value.startswith("[") and value.endswith("]")):
        raise ValidationError(
            gettext("Enter the host without a port; write an IPv6 address in brackets, e.g. [2001:db8::1].")
        )
    try:
        _host, _is_ip, written = normalise_host(value.rstrip("."))
    except UrlRejected as exc:
        raise ValidationError(str(exc)) from None
    return written


class ProviderChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Providers by name, with country and id to tell apart those of one name."""

    def label_from_instance(self, obj: Any) -> str:
        country = f", {obj.country}" if obj.country else ""
        return f"{obj.name}{country} (#{obj.pk})"


class DomainRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = DomainRule
        fields = [
            "suffix",
            "provider",
            "origin_host",
            "suggest_verdict",
            "suggest_legal_basis",
            "suggest_category",
            "suggest_media_type",
            "suggest_not_illegal_reason",
            "auto_accept",
            "do_not_notify",
            "do_not_check",
            "notes",
        ]
        widgets = {
            "suffix": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autofocus": True}),
            "origin_host": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        field_classes = {"provider": ProviderChoiceField}
        labels = {
            "suffix": _("Suffix"),
            "provider": _("Provider"),
            "origin_host": _("Origin server"),
            "suggest_verdict": _("Verdict"),
            "suggest_legal_basis": _("Legal basis"),
            "suggest_category": _("Category"),
            "suggest_media_type": _("Media"),
            "suggest_not_illegal_reason": _("Reason (not illegal)"),
            "auto_accept": _("Auto-accept"),
            "do_not_notify": _("Do not notify"),
            "do_not_check": _("Do not check availability"),
            "notes": _("Notes"),
        }
        help_texts = {
            "suffix": _("A host or domain; the rule covers it and every host under it. The most specific rule wins."),
            "provider": _("Notices for hosts under this suffix go to this provider, whatever DNS and RDAP say."),
            "origin_host": _("Origin server behind a CDN."),
            "auto_accept": _(
                "Record the suggested verdict without an analyst (marked automatic). Needs a complete verdict."
            ),
            "do_not_notify": _("Send no notices for hosts under this suffix: the hotline handles them by hand."),
            "do_not_check": _("Do not check availability (removal is marked by hand)."),
        }

    def clean_suffix(self) -> str:
        return suffix_normalise(self.cleaned_data.get("suffix") or "")

    def clean_origin_host(self) -> str:
        return origin_normalise(self.cleaned_data.get("origin_host") or "")
