"""Reverse billing: we invoice a CPO for the credit it owes us, and name the CDRs to it (OCPI 2.3.0 invoice
reconciliation, we are the Sender).

Where staff decided a CDR's dispute by accepting our price (`Dispute.Status.OURS_ACCEPTED`, the latest decision
counts), we pay our price, not the CPO's `total_cost` (`billing.exports.payable_basis`): the CPO owes us the
difference. `cpo_credit_invoices_issue` puts every such CDR not credited yet on one invoice per currency, with a
gap-free number of its own series, and in the same transaction writes the record that names them, whose push to
the CPO's Receiver goes through the task outbox. A CDR is credited once (`CpoCreditLine.cdr` is unique).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from billing.invoicing import _numbers_take, _sequence_lock, round_amount
from billing.models import CpoCreditInvoice, CpoCreditLine, Dispute
from billing.selectors import latest_dispute_status
from roaming.models import Cdr, Partner
from roaming.services.invoicereconciliation import issued_invoice_record_put

logger = logging.getLogger(__name__)

SERIES = "CRC"


def cdrs_to_credit(partner: Partner) -> QuerySet[Cdr]:
    """The partner's CDRs where we accepted our price below the CPO's and that no credit invoice has yet."""
    return (
        Cdr.objects.filter(
            partner=partner,
            price__total_excl_vat__isnull=False,
            total_cost_excl_vat__gt=F("price__total_excl_vat"),
            cpo_credit_line__isnull=True,
        )
        .annotate(dispute_status=latest_dispute_status())
        .filter(dispute_status=Dispute.Status.OURS_ACCEPTED)
        .select_related("price")
        .order_by("currency", "start_date_time", "pk")
    )


def cpo_credit_invoices_issue(*, partner: Partner, by: AbstractBaseUser | None = None) -> list[CpoCreditInvoice]:
    """Issue the partner's credit invoices (one per currency) for every CDR to credit; none when there is none."""
    issued: list[CpoCreditInvoice] = []
    today = timezone.localdate()
    with transaction.atomic():
        by_currency: dict[str, list[Cdr]] = {}
        for cdr in cdrs_to_credit(partner).select_for_update(of=("self",)):
            by_currency.setdefault(cdr.currency, []).append(cdr)
        if not by_currency:
            return issued
        sequence = _sequence_lock(series=SERIES, year=today.year)
        for currency, cdrs in sorted(by_currency.items()):
            [number] = _numbers_take(sequence, 1)
            lines = [
                CpoCreditLine(
                    cdr=cdr,
                    cpo_excl_vat=cdr.total_cost_excl_vat,
                    ours_excl_vat=cdr.price.total_excl_vat,
                    credit_excl_vat=cdr.total_cost_excl_vat - cdr.price.total_excl_vat,
                )
                for cdr in cdrs
            ]
            record = issued_invoice_record_put(
                partner=partner, record_id=number, invoice_id=number, cdr_ids=[cdr.ocpi_id for cdr in cdrs]
            )
            invoice = CpoCreditInvoice.objects.create(
                partner=partner,
                number=number,
                issue_date=today,
                currency=currency,
                total_excl_vat=round_amount(sum((line.credit_excl_vat for line in lines), Decimal("0")), currency),
                record=record,
                issued_by_id=by.pk if by is not None else None,
            )
            for line in lines:
                line.invoice = invoice
            CpoCreditLine.objects.bulk_create(lines)
            issued.append(invoice)
            logger.info("credit invoice %s to partner %s: %d CDRs", number, partner.pk, len(lines))
    return issued
