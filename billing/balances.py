"""A driver's balance, derived: never typed in, recomputed from the records whenever one of them changes.

`Driver.outstanding` is every issued invoice and credit note minus every payment that was not returned;
`Driver.uninvoiced` is the charges for priced sessions and the fees not on an invoice yet, incl. VAT. They are
columns (not computed on read) because real-time authorization checks the credit limit against their sum while a driver
waits at the charger (`drivers.selectors.CHARGE_REFUSALS`). Whatever writes an invoice, a payment or a charge
calls `driver_balances_refresh` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Round

from billing.models import Fee, Invoice, Payment, SessionCharge
from drivers.models import Driver

_ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=12, decimal_places=2))


def _sum(queryset, expression) -> Coalesce:  # type: ignore[no-untyped-def]
    """SUM(expression) over `queryset` for the outer driver, 0 when there is nothing."""
    total = queryset.values("driver").annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(total, output_field=DecimalField(max_digits=14, decimal_places=4)), _ZERO)


def driver_balances_refresh(*, driver_ids: Iterable[int]) -> int:
    """Recompute `outstanding` and `uninvoiced` of these drivers in one UPDATE; returns how many rows."""
    ids = sorted(set(driver_ids))
    if not ids:
        return 0
    invoiced = _sum(Invoice.objects.filter(driver=OuterRef("pk")), F("total_incl_vat"))
    paid = _sum(
        Payment.objects.filter(invoice__driver=OuterRef("pk"), status=Payment.Status.RECEIVED).annotate(
            driver=F("invoice__driver")
        ),
        F("amount"),
    )
    uninvoiced = _sum(
        SessionCharge.objects.filter(driver=OuterRef("pk"), invoice__isnull=True),
        # x 0.01, not / 100: SQLite divides integers as integers (a rate of 21 is stored as one).
        F("amount_excl_vat") * (Value(Decimal("100")) + F("vat_rate")) * Value(Decimal("0.01")),
    )
    fees = _sum(Fee.objects.filter(driver=OuterRef("pk"), invoice__isnull=True), F("amount"))  # no VAT on fees
    return Driver.objects.filter(pk__in=ids).update(outstanding=invoiced - paid, uninvoiced=Round(uninvoiced, 2) + fees)
