"""Forms of the routing stage: domain rules, with host suffixes checked and normalised the way
reported hosts are (used by the senior analysts' pages and the admin alike)."""

from __future__ import annotations

import re
from typing import Any

import idna
from django import forms
from django.core.exceptions import ValidationError

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
        raise ValidationError("Enter a host or domain, e.g. example.com.")
    if _SCHEME.match(value):
        raise ValidationError("Enter a host name, not a URL: leave out the scheme (http://) and any path.")
    if any(c.isspace() for c in value):
        raise ValidationError("A host name has no spaces.")
    odd = sorted({c for c in value if c in "/\\?#@:[]*%"})
    if odd:
        hint = " (a rule already covers every subdomain: leave out '*.')" if "*" in odd else ""
        raise ValidationError(
            f"Enter a host name only: {''.join(odd)!r} cannot appear in one{hint}. No path, port or user name."
        )
    try:
        mapped = idna.uts46_remap(value, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise ValidationError("The host contains characters that are not allowed in host names.") from None
    mapped = mapped.strip(".")
    if not mapped:
        raise ValidationError("Enter a host or domain, e.g. example.com.")
    labels = []
    for label in mapped.split("."):
        if not label:
            raise ValidationError("The host has an empty label (two dots in a row).")
        labels.append(_label_ascii(label))
    host = ".".join(labels)
    if len(host) > _MAX_NAME:
        raise ValidationError(f"A host name has at most {_MAX_NAME} characters; this has {len(host)}.")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise ValidationError(
            "That is an IP address, not a host name: add its network to a provider's networks (CIDRs) instead."
        )
    return host


def _label_ascii(label: str) -> str:
    bad = sorted({c for c in label if c.isascii() and not _ASCII_LABEL.fullmatch(c)})
    if bad:
        raise ValidationError(f"{''.join(bad)!r} is not allowed in host names (letters, digits, '-' and '_' are).")
    if label.isascii():
        if label.startswith("xn--"):
            try:
                label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                raise ValidationError(f"{label!r} is not valid Punycode.") from None
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except idna.IDNAError:
            # As browsers (and the URL normaliser) do for labels IDNA 2008 refuses, such as emoji.
            ascii_label = "xn--" + label.encode("punycode").decode("ascii")
    if len(ascii_label) > _MAX_LABEL:
        raise ValidationError(
            f"A label has at most {_MAX_LABEL} characters; {ascii_label[:20]}… has {len(ascii_label)}."
        )
    return ascii_label


def origin_normalise(text: str) -> str:
    """The origin server behind a CDN as resolution reads it: a host name or an IP address (an IPv6
    address in brackets), normalised like a reported URL's host."""
    value = text.strip()
    if not value:
        return ""
    if _SCHEME.match(value) or any(c in value for c in "/\\?#@") or any(c.isspace() for c in value):
        raise ValidationError("Enter the origin's host name or IP address only: no scheme, path or spaces.")
    if ":" in value and not (value.startswith("[") and value.endswith("]")):
        raise ValidationError("Enter the host without a port; write an IPv6 address in brackets, e.g. [2001:db8::1].")
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
            "origin_host": "Origin server",
            "suggest_verdict": "Verdict",
            "suggest_legal_basis": "Legal basis",
            "suggest_category": "Category",
            "suggest_media_type": "Media",
            "suggest_not_illegal_reason": "Reason (not illegal)",
            "auto_accept": "Auto-accept",
            "do_not_notify": "Do not notify",
            "do_not_check": "Do not check availability",
        }
        help_texts = {
            "suffix": "A host or domain; the rule covers it and every host under it. The most specific rule wins.",
            "provider": "Notices for hosts under this suffix go to this provider, whatever DNS and RDAP say.",
        }

    def clean_suffix(self) -> str:
        return suffix_normalise(self.cleaned_data.get("suffix") or "")

    def clean_origin_host(self) -> str:
        return origin_normalise(self.cleaned_data.get("origin_host") or "")
