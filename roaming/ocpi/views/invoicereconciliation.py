"""Invoice Reconciliation module (2.3.0). Our Receiver interface for direct billing: the CPO tells us which
CDRs each of its invoices covers. Our Sender interface for reverse billing: `GET {url}` pages through our
records of our invoices to the calling CPO (by `last_updated`, `date_from`/`date_to`), which we also push.

`POST {url}` with a new record, `PUT {url}/{country_code}/{party_id}/{id}` with a changed one, `GET` and
`DELETE` there; the module has no PATCH. A POST of a record we hold already is taken as its resend (the
same write as PUT), so a CPO retrying a POST it lost the answer to does not get an error.
"""

from __future__ import annotations

from django.http import HttpRequest

from roaming import selectors
from roaming.services.common import StaleUpdate, UnknownObject
from roaming.services.invoicereconciliation import invoice_record_delete, invoice_record_store

from ..envelope import OcpiResponse
from ..errors import NotFound
from ..pagination import paginated_response
from ..v2_3_0 import InvoiceReconciliationRecord
from ..v2_3_0.mapping import invoice_record_data, invoice_record_to_ocpi
from .base import OcpiView
from .locations import _check_same, stale_response, unknown


class InvoiceReconciliationReceiverView(OcpiView):
    """A record at its own URL: GET, PUT, DELETE."""

    module = "invoicereconciliation"

    def get(self, request: HttpRequest, country_code: str, party_id: str, record_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        record = selectors.invoice_record(party, record_id)
        if record is None:
            raise NotFound(f"Unknown invoice reconciliation record {record_id}.")
        return OcpiResponse(invoice_record_to_ocpi(record))

    def put(self, request: HttpRequest, country_code: str, party_id: str, record_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        record = self.parse(request, InvoiceReconciliationRecord)
        _check_same("Record id", record_id, record.id)
        _check_same("country_code", party[0], record.country_code)
        _check_same("party_id", party[1], record.party_id)
        return _store(self, record)

    def delete(self, request: HttpRequest, country_code: str, party_id: str, record_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        try:
            invoice_record_delete(party=party, record_id=record_id)
        except StaleUpdate as exc:
            return stale_response(exc)
        except UnknownObject as exc:
            raise unknown(exc) from exc
        return OcpiResponse()


class InvoiceReconciliationPostView(OcpiView):
    """The module URL: a new record is POSTed here, its party named in the body (it must be the caller's);
    a GET lists our own records for the caller (Sender interface, paginated)."""

    module = "invoicereconciliation"

    def get(self, request: HttpRequest) -> OcpiResponse:
        records = selectors.issued_invoice_records(self.caller.partner)
        return paginated_response(request, records, lambda page: [invoice_record_to_ocpi(r) for r in page])

    def post(self, request: HttpRequest) -> OcpiResponse:
        record = self.parse(request, InvoiceReconciliationRecord)
        self.require_party(record.country_code, record.party_id)
        return _store(self, record)


def _store(view: OcpiView, record: InvoiceReconciliationRecord) -> OcpiResponse:
    try:
        created = invoice_record_store(partner=view.caller.partner, record=invoice_record_data(record))
    except StaleUpdate as exc:
        return stale_response(exc)
    return OcpiResponse(http_status=201 if created else 200)
