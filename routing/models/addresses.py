"""The addresses a case's host resolved to, as rows: what the workspace's search by IP address or
network reads (on PostgreSQL an ``inet`` column under a GiST index, so ``<<=`` finds every case in
a network without reading the cases' JSON)."""

from __future__ import annotations

from django.db import models


class CaseAddress(models.Model):
    """One address of a case at its latest resolution (its host's, and its CDN origin's): replaced
    with every resolution (`routing.resolution.cases`)."""

    # Indexed by caseaddress_once (case, ip).
    case = models.ForeignKey("reports.Case", on_delete=models.CASCADE, related_name="addresses", db_index=False)
    ip = models.GenericIPAddressField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "ip"], name="caseaddress_once")]
        verbose_name = "case address"
        verbose_name_plural = "case addresses"

    def __str__(self) -> str:
        return f"{self.ip} of case {self.case_id}"
