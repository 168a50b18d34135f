"""Who hosts a case and whom to tell: providers, the rules that assign them, and the lookup caches.

The caches (`HostLookup`, `AsnLookup`, `NetworkLookup`, `DomainLookup`) live in the database so
that every worker shares them. Address ranges are stored per CIDR block as a fixed-width hex start
address plus a prefix length: the blocks that may contain an address are exactly that address
masked to each prefix length, so a containment lookup is one indexed ``IN`` query on every
database (see `routing.resolution.addresses`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reports.assessment import AssessmentInvalid, Classification
from reports.cases.classification import CONTRADICTION_CODES
from reports.models import Category, LegalBasis, MediaType, NotIllegalReason, Verdict
from routing.models.deliveries import DeliveryChannel
from scart.sealing import SealedTextField


class Confidence(models.TextChoices):
    HIGH = "high", _("high")
    LOW = "low", _("low")
    NONE = "none", _("none")


class AbuseSource(models.TextChoices):
    """How a network's abuse address was found (see docs/resolution.md)."""

    ABUSE_ROLE = "abuse-role", _("abuse role")
    ABUSE_LIKE = "abuse-like-address", _("abuse-like address under another role")
    TECH_ADMIN = "technical-or-administrative", _("technical or administrative contact")
    NO_ROLES = "no-roles", _("entities without roles (AFRINIC)")
    MANUAL = "manual", _("set by an analyst")
    NONE = "none", _("none found")


class AbuseRule(models.TextChoices):
    """Which rung of the order in `routing.resolution.contacts` chose a network's abuse addresses; the label
    says why, in the words the contact and case pages show (docs/resolution.md)."""

    MARKED_ABUSE = "marked_abuse", _("the registry marks it as the abuse mailbox")
    ABUSE_LOCAL_PART = "abuse_local_part", _("the abuse contact marks no mailbox; this is its abuse@ address")
    ABUSE_ROLE_ALL = (
        "abuse_role_all",
        _("the abuse contact marks no mailbox and has no abuse@ address: all its addresses"),
    )
    ABUSE_ELSEWHERE = (
        "abuse_elsewhere",
        _("an abuse mailbox under another role (the abuse contact names none of the operator's)"),
    )
    REGISTRY_ABUSE_ROLE = "registry_abuse_role", _("the only abuse contact is the registry's own")
    TECH_ADMIN = "tech_admin", _("no abuse contact: the technical or administrative contact")
    NO_ROLES = "no_roles", _("the record names no roles: the first group, organisation or person with an address")
    NONE = "none", _("no address found")
    MANUAL = "manual", _("set or confirmed by hand")


class ApiNotify(models.TextChoices):
    """Whom a provider's abuse API tells of a report, and whether it names the hotline (Cloudflare's
    ``host_notification`` and ``owner_notification``)."""

    SEND = "send", _("told, with the hotline's name")
    SEND_ANON = "send-anon", _("told, without the hotline's name")
    NONE = "none", _("not told")


class ProviderSource(models.TextChoices):
    RDAP = "rdap", _("created from RDAP")
    MANUAL = "manual", _("created by hand")


class Provider(models.Model):
    """A hosting provider, CDN or network operator: someone a notice can go to.

    Providers created from RDAP are keyed by the registry's organisation handle (or, when a
    record names no organisation, by the abuse address) so that every network of one operator
    lands on one provider. The ``asns`` and ``cidrs`` lists are rules set by people: an address
    in one of those CIDRs (longest prefix wins) or announced by one of those ASNs belongs to this
    provider whatever RDAP says.
    """

    name = models.CharField(max_length=200)
    key = models.CharField(
        max_length=300, unique=True, null=True, blank=True, help_text="RDAP identity, e.g. 'rdap:arin:GOGL'."
    )
    source = models.CharField(max_length=8, choices=ProviderSource.choices, default=ProviderSource.MANUAL)
    abuse_emails = models.JSONField(default=list, blank=True)
    abuse_source = models.CharField(max_length=32, choices=AbuseSource.choices, default=AbuseSource.MANUAL)
    # Blank on rows made before the rule was recorded: their next resolution replaces their addresses.
    abuse_rule = models.CharField(max_length=32, choices=AbuseRule.choices, blank=True)
    confidence = models.CharField(max_length=4, choices=Confidence.choices, default=Confidence.HIGH)
    country = models.CharField(max_length=2, blank=True)
    language = models.CharField(max_length=8, default="en", help_text="Language of notices (e.g. en, nl, de).")
    rdap_handles = models.JSONField(default=list, blank=True)
    asns = models.JSONField(default=list, blank=True, help_text="ASNs whose addresses belong to this provider.")
    cidrs = models.JSONField(default=list, blank=True, help_text="Networks that belong to this provider.")
    verified = models.BooleanField(default=False, help_text="An analyst confirmed the abuse contact.")
    is_cdn = models.BooleanField(default=False, help_text="A CDN or reverse proxy: notices ask for the origin.")
    # Notices: how long the first notice waits for more cases (blank: SCART_NOTICE_WINDOW_MINUTES),
    # the rhythm and number of reminders (blank: SCART_REMINDER_HOURS, SCART_REMINDER_MAX), an
    # address to escalate to before the registrar, and one to use when the abuse address bounces.
    notice_window = models.DurationField(null=True, blank=True, help_text="Batching window for first notices.")
    reminder_interval = models.DurationField(null=True, blank=True)
    reminder_max = models.PositiveSmallIntegerField(null=True, blank=True)
    escalation_email = models.EmailField(blank=True)
    fallback_email = models.EmailField(blank=True, help_text="Used when the abuse address bounces.")
    # How its notices go out, chosen by a senior analyst (`routing.notices.channels`).
    delivery_channel = models.CharField(
        max_length=24,
        choices=DeliveryChannel.choices,
        default=DeliveryChannel.BATCHED_MAIL,
        db_default=DeliveryChannel.BATCHED_MAIL,
    )
    openpgp_key = models.TextField(
        blank=True, help_text="Its OpenPGP public key (ASCII armour): signed notices are also encrypted to it."
    )
    # Set when a notice to the abuse address bounced or was refused: the provider's cases go to the
    # contact-check queue (or to the fallback address) until someone confirms an address.
    contact_flagged_at = models.DateTimeField(null=True, blank=True)
    contact_flag_reason = models.CharField(max_length=500, blank=True)
    # Addresses (lower case) retired after SCART_CONTACT_HARD_BOUNCES hard bounces: notices skip
    # them and go to the next contact (`routing.jurisdiction.provider_contacts`) until a senior
    # analyst confirms the contact. Kept apart from ``abuse_emails``, which RDAP keeps refreshing.
    retired_emails = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    # Its abuse-reports API (the provider API channel, `routing.notices.channels.api`), set by a
    # senior analyst: where, as which account, and whom the API tells. The token is sealed at rest
    # and no page or form shows it back.
    api_base_url = models.URLField(max_length=300, blank=True, default="", db_default="")
    api_account = models.CharField(max_length=64, blank=True, default="", db_default="")
    api_token = SealedTextField(blank=True, default="", db_default="")
    api_host_notification = models.CharField(
        max_length=16, choices=ApiNotify.choices, default=ApiNotify.SEND, db_default=ApiNotify.SEND
    )
    # The site's owner is often who put the material there: not told unless a senior decides so.
    api_owner_notification = models.CharField(
        max_length=16, choices=ApiNotify.choices, default=ApiNotify.NONE, db_default=ApiNotify.NONE
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name"], name="provider_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def api_configured(self) -> bool:
        """Whether its abuse API can be used: a base URL, an account and a token are set."""
        return bool(self.api_base_url and self.api_account and self.api_token)

    @property
    def chosen_by(self) -> str:
        """The `AbuseRule` that chose the addresses: ``manual`` for addresses set by hand (a provider
        made by hand or seeded), "" for an RDAP provider made before the rule was recorded."""
        if not self.abuse_rule and self.abuse_source == AbuseSource.MANUAL:
            return AbuseRule.MANUAL
        return self.abuse_rule

    @property
    def chosen_because(self) -> str:
        """Why these addresses, in words (the label of `chosen_by`); "" when not recorded."""
        return str(AbuseRule(self.chosen_by).label) if self.chosen_by else ""

    @property
    def contact_confidence(self) -> str:
        """People vouch for verified providers and for hand-made ones they rated high (the default);
        RDAP ones are as good as their record."""
        if not self.abuse_emails:
            return Confidence.NONE
        if self.verified:
            return Confidence.HIGH
        return self.confidence


class DomainRule(models.Model):
    """Settings for a host and everything under it; the most specific suffix wins.

    ``provider`` overrides whatever DNS and RDAP say (a manual domain rule beats every other
    match); ``origin_host`` names the real server of a site behind a CDN, which is then resolved
    like any host.
    """

    suffix = models.CharField(max_length=253, unique=True, help_text="Host or domain, e.g. 'example.com'.")
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="domain_rules")
    origin_host = models.CharField(max_length=253, blank=True, help_text="Origin server behind a CDN.")
    # A verdict the rule suggests for every case under it: shown to the analyst with the rule as its
    # provenance, or, with ``auto_accept`` (set by a senior analyst), recorded as an automatic verdict.
    suggest_verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    suggest_legal_basis = models.CharField(max_length=16, choices=LegalBasis.choices, blank=True)
    suggest_category = models.CharField(max_length=2, choices=Category.choices, blank=True)
    suggest_media_type = models.CharField(max_length=8, choices=MediaType.choices, blank=True)
    suggest_not_illegal_reason = models.CharField(max_length=32, choices=NotIllegalReason.choices, blank=True)
    auto_accept = models.BooleanField(
        default=False,
        help_text="Record the suggested verdict without an analyst (marked automatic). Needs a complete verdict.",
    )
    do_not_notify = models.BooleanField(
        default=False, help_text="Send no notices for hosts under this suffix: the hotline handles them by hand."
    )
    do_not_check = models.BooleanField(
        default=False, help_text="Do not check availability (removal is marked by hand)."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["suffix"]

    def __str__(self) -> str:
        return self.suffix

    def suggestion(self) -> dict[str, Any]:
        """The verdict this rule suggests, as classification fields (empty when it suggests none)."""
        if not self.suggest_verdict:
            return {}
        fields = {
            "verdict": self.suggest_verdict,
            "legal_basis": self.suggest_legal_basis,
            "category": self.suggest_category,
            "media_type": self.suggest_media_type,
            "not_illegal_reason": self.suggest_not_illegal_reason,
        }
        return {k: v for k, v in fields.items() if v}

    def clean(self) -> None:

        suggestion = self.suggestion()
        if not suggestion:
            if self.auto_accept:
                raise ValidationError({"auto_accept": gettext("a rule can only auto-accept a verdict it suggests")})
            if any(
                [
                    self.suggest_legal_basis,
                    self.suggest_category,
                    self.suggest_media_type,
                    self.suggest_not_illegal_reason,
                ]
            ):
                raise ValidationError({"suggest_verdict": gettext("choose the verdict these fields belong to")})
            return
        try:
            Classification(**suggestion).cleaned()
        except AssessmentInvalid as exc:
            # The age group follows from the category: a rule has no field of its own for it.
            fields = {
                f"suggest_{name}": error for name, error in exc.errors.items() if hasattr(self, f"suggest_{name}")
            }
            if self.auto_accept:
                raise ValidationError({k: str(v) for k, v in fields.items()}) from exc
            # A suggestion may leave fields to the analyst, but not contradict its verdict.
            wrong = {k: str(v) for k, v in fields.items() if v.code in CONTRADICTION_CODES}
            if wrong:
                raise ValidationError(wrong) from exc


class HostLookup(models.Model):
    """The DNS answer for a host, kept for its TTL (clamped), or a shorter time for failures.

    ``claimed_until`` makes concurrent workers wait for the one that is already asking.
    """

    host = models.CharField(max_length=253, unique=True)
    result = models.JSONField(default=dict)
    fetched_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)
    claimed_until = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.host


class CidrRow(models.Model):
    """A cache row for one CIDR block."""

    version = models.PositiveSmallIntegerField()
    start = models.CharField(max_length=32, help_text="First address, fixed-width hex.")
    prefixlen = models.PositiveSmallIntegerField()
    cidr = models.CharField(max_length=43)
    data = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    fetched_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.cidr


class AsnLookup(CidrRow):
    """What Team Cymru says of an announced prefix: origin ASN, country, registry."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "start", "prefixlen"], name="asnlookup_block")]


class NetworkLookup(CidrRow):
    """The RDAP network object covering a block, with its chosen abuse contact."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "start", "prefixlen"], name="networklookup_block")]


class AsnName(models.Model):
    asn = models.PositiveBigIntegerField(unique=True)
    name = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"AS{self.asn} {self.name}"


class DomainLookup(models.Model):
    """The registrar of a registrable domain, from domain RDAP."""

    domain = models.CharField(max_length=253, unique=True)
    data = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    fetched_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.domain


class PartnerHotline(models.Model):
    """A hotline abroad that takes referrals for content hosted in its country (the INHOPE network
    and others). Seeded with a list of countries and names; the referral address is for an
    administrator to fill in from the hotline's own agreement, and a referral waits for one."""

    country = models.CharField(max_length=2, unique=True, help_text="ISO 3166-1 alpha-2 code.")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, help_text="Where referrals are sent.")
    website = models.URLField(blank=True)
    language = models.CharField(max_length=8, default="en", help_text="Language of referrals (e.g. en, de).")
    active = models.BooleanField(default=True, help_text="Inactive: cases hosted there go to provider and police.")
    direct_notice_after = models.DurationField(
        null=True,
        blank=True,
        help_text="Also send the hosting provider a notice after this delay if the content is still online.",
    )
    # How its referrals go out, chosen by a senior analyst (`routing.notices.channels`).
    delivery_channel = models.CharField(
        max_length=24,
        choices=DeliveryChannel.choices,
        default=DeliveryChannel.BATCHED_MAIL,
        db_default=DeliveryChannel.BATCHED_MAIL,
    )
    openpgp_key = models.TextField(
        blank=True, help_text="Its OpenPGP public key (ASCII armour): signed referrals are also encrypted to it."
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["country"]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"
