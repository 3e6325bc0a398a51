"""A CPO's invoice against what we hold: the CDRs it names, the ones it should have named, and what it comes to.

An invoice is a partner's `invoice_id` (a CiString: compared without regard to case) and every live invoice
reconciliation record that carries it (OCPI 2.3.0, direct billing). Reads only; the records are written by
roaming.services.invoicereconciliation.

- missing: ids the invoice names that match no CDR we received (under the record's party, case ignored);
- double: CDRs named by two or more live records (of any invoice of the party), or twice in one record;
- unnamed (per partner, not per invoice): CDRs we received at least BILLING_INVOICE_GRACE_DAYS ago that no
  live record names. Reconciliation starts where the CPO's records start: CDRs that ended before the earliest
  CDR its oldest record names predate it and are not expected on any invoice.

The totals count each CDR the invoice names once (a double is shown as such, not added twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone

from billing.exports import payable_basis
from billing.models import CdrPrice, Dispute
from billing.selectors import latest_dispute_status
from roaming.models import Cdr, InvoiceReconciliationCdr, InvoiceReconciliationRecord, Partner

ZERO = Decimal("0")

#: (country_code, party_id, CDR id in upper case): how an invoiced CDR id is matched.
CdrKey = tuple[str, str, str]


@dataclass
class InvoiceTotal:
    """An invoice's CDRs in one currency: the CPO's price of them, and the price we accepted.

    The accepted price of a CDR is the CPO's, except where staff decided its latest dispute by accepting our
    price (`Dispute.Status.OURS_ACCEPTED`): then it is ours (`CdrPrice`), and the CPO owes us a credit for the
    difference. A dispute still open, one decided for the CPO, or resolved otherwise leaves the CPO's price; the
    open ones are counted so finance can hold them back. The same rule as the payables export (`payable_basis`).
    An incl. VAT total is None when a CDR lacks that figure.
    """

    currency: str
    cdrs: int = 0
    cpo_excl_vat: Decimal = ZERO
    cpo_incl_vat: Decimal | None = ZERO
    accepted_excl_vat: Decimal = ZERO
    accepted_incl_vat: Decimal | None = ZERO
    open_disputes: int = 0

    def add(self, line: InvoicedCdr) -> None:
        cdr = line.cdr
        self.cdrs += 1
        self.cpo_excl_vat += cdr.total_cost_excl_vat
        self.cpo_incl_vat = _plus(self.cpo_incl_vat, cdr.total_cost_incl_vat)
        self.accepted_excl_vat += line.accepted_excl_vat or ZERO
        self.accepted_incl_vat = _plus(self.accepted_incl_vat, line.accepted_incl_vat)
        self.open_disputes += line.dispute_status == Dispute.Status.OPEN


def _plus(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    return None if total is None or value is None else total + value


@dataclass
class InvoicedCdr:
    """A CDR the invoice names and we hold, with the price we accepted for it."""

    cdr: Cdr
    dispute_status: str | None
    basis: str  # "cpo" or "ours"
    accepted_excl_vat: Decimal | None
    accepted_incl_vat: Decimal | None


@dataclass
class InvoiceCheck:
    partner: Partner
    invoice_id: str
    records: list[InvoiceReconciliationRecord]
    named: int  # distinct CDR ids
    cdrs: list[InvoicedCdr]
    missing: list[str]  # ids as the CPO sent them
    double: dict[str, list[str]]  # CDR id as sent -> the invoice ids of the records naming it, once per naming
    totals: list[InvoiceTotal] = field(default_factory=list)  # by currency


def live_records(partner: Partner) -> QuerySet[InvoiceReconciliationRecord]:
    return InvoiceReconciliationRecord.objects.filter(partner=partner, deleted_at__isnull=True)


def invoice_check(*, partner: Partner, invoice_id: str) -> InvoiceCheck:
    """Everything finance needs about one invoice of a CPO (a handful of queries)."""
    records = list(live_records(partner).filter(invoice_id__iexact=invoice_id).order_by("last_updated", "pk"))
    sent: dict[CdrKey, str] = {}
    for record in records:
        for cdr_id in record.cdr_ids:
            sent.setdefault((record.country_code, record.party_id, cdr_id.upper()), cdr_id)
    matched = cdrs_matching(sent)
    cdrs = [_invoiced(cdr) for cdr in _priced(matched.values())]
    totals: dict[str, InvoiceTotal] = {}
    for line in cdrs:
        totals.setdefault(line.cdr.currency, InvoiceTotal(line.cdr.currency)).add(line)
    return InvoiceCheck(
        partner=partner,
        invoice_id=records[0].invoice_id if records else invoice_id,
        records=records,
        named=len(sent),
        cdrs=cdrs,
        missing=[cdr_id for key, cdr_id in sent.items() if key not in matched],
        double={sent[key]: invoices for key, invoices in _named_more_than_once(set(sent)).items()},
        totals=[totals[currency] for currency in sorted(totals)],
    )


def cdrs_matching(sent: dict[CdrKey, str]) -> dict[CdrKey, Cdr]:
    """Our CDRs for invoiced ids. Ids as sent first (the unique index finds them); only those not found so are
    looked for without regard to case, which reads the party's CDR ids: rare, as CPOs repeat their own ids."""
    found: dict[CdrKey, Cdr] = {}
    if not sent:
        return found
    exact = Q()
    for (country_code, party_id, _), cdr_id in sent.items():
        exact |= Q(country_code=country_code, party_id=party_id, ocpi_id=cdr_id)
    for cdr in Cdr.objects.filter(exact):
        found[(cdr.country_code, cdr.party_id, cdr.ocpi_id.upper())] = cdr
    rest: dict[tuple[str, str], list[str]] = {}
    for key in sent:
        if key not in found:
            rest.setdefault(key[:2], []).append(key[2])
    for (country_code, party_id), keys in rest.items():
        candidates = Cdr.objects.annotate(key=Upper("ocpi_id")).filter(
            country_code=country_code, party_id=party_id, key__in=keys
        )
        for cdr in candidates.order_by("pk"):
            found.setdefault((country_code, party_id, cdr.ocpi_id.upper()), cdr)
    return found


def _priced(cdrs: Iterable[Cdr]) -> QuerySet[Cdr]:
    return (
        Cdr.objects.filter(pk__in=[cdr.pk for cdr in cdrs])
        .select_related("price")
        .annotate(dispute_status=latest_dispute_status())
        .order_by("start_date_time", "pk")
    )


def _invoiced(cdr: Cdr) -> InvoicedCdr:
    price: CdrPrice | None = getattr(cdr, "price", None)
    status: str | None = cdr.dispute_status  # type: ignore[attr-defined]
    basis = payable_basis(status, price)
    if basis == "ours":
        assert price is not None
        excl, incl = price.total_excl_vat, price.total_incl_vat
    else:
        excl, incl = cdr.total_cost_excl_vat, cdr.total_cost_incl_vat
    return InvoicedCdr(cdr=cdr, dispute_status=status, basis=basis, accepted_excl_vat=excl, accepted_incl_vat=incl)


def _named_more_than_once(keys: set[CdrKey]) -> dict[CdrKey, list[str]]:
    """Of these CDR ids, those that live records name more than once, with the invoices that name them."""
    if not keys:
        return {}
    condition = Q()
    by_party: dict[tuple[str, str], list[str]] = {}
    for country_code, party_id, key in keys:
        by_party.setdefault((country_code, party_id), []).append(key)
    for (country_code, party_id), party_keys in by_party.items():
        condition |= Q(country_code=country_code, party_id=party_id, cdr_key__in=party_keys)
    naming: dict[CdrKey, list[str]] = {}
    lines = InvoiceReconciliationCdr.objects.filter(condition).order_by("record__last_updated", "pk")
    for country_code, party_id, key, invoice_id in lines.values_list(
        "country_code", "party_id", "cdr_key", "record__invoice_id"
    ):
        naming.setdefault((country_code, party_id, key), []).append(invoice_id)
    return {key: invoices for key, invoices in naming.items() if len(invoices) > 1}


def cdrs_unnamed(*, partner: Partner, now: datetime | None = None) -> QuerySet[Cdr]:
    """The partner's CDRs that no live record names although their grace period is over (see the module)."""
    start = reconciliation_start(partner)
    if start is None:
        return Cdr.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=settings.BILLING_INVOICE_GRACE_DAYS)
    named = InvoiceReconciliationCdr.objects.filter(
        country_code=OuterRef("country_code"), party_id=OuterRef("party_id"), cdr_key=OuterRef("key")
    )
    return (
        Cdr.objects.filter(partner=partner, end_date_time__gte=start, received_at__lte=cutoff)
        .annotate(key=Upper("ocpi_id"))
        .exclude(Exists(named))
        .order_by("end_date_time", "pk")
    )


def reconciliation_start(partner: Partner) -> datetime | None:
    """When CDRs start to be expected on invoices: the end of the earliest CDR the CPO's oldest live record names
    (that record's own time when we hold none of them). None: the CPO sends no records."""
    first = live_records(partner).order_by("last_updated", "pk").first()
    if first is None:
        return None
    sent = {(first.country_code, first.party_id, cdr_id.upper()): cdr_id for cdr_id in first.cdr_ids}
    matched = cdrs_matching(sent)
    earliest = Cdr.objects.filter(pk__in=[cdr.pk for cdr in matched.values()]).aggregate(at=Min("end_date_time"))
    return earliest["at"] or first.last_updated


def invoice_checks(records: Iterable[InvoiceReconciliationRecord]) -> dict[tuple[int, str], InvoiceCheck]:
    """The checks of the invoices these records belong to (an admin page's rows), by (partner id, INVOICE ID)."""
    checks: dict[tuple[int, str], InvoiceCheck] = {}
    for record in records:
        key = (record.partner_id, record.invoice_id.upper())
        if key not in checks:
            checks[key] = invoice_check(partner=record.partner, invoice_id=record.invoice_id)
    return checks
