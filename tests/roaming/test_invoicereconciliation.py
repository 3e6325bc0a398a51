"""OCPI 2.3.0 Invoice Reconciliation: our Receiver (the CPO tells us which CDRs each invoice covers), the pull of
a CPO's Sender list, and 2.3.0 announced with it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from emsp.models import OutboxTask
from roaming.models import (
    InvoiceReconciliationCdr,
    InvoiceReconciliationRecord,
    IssuedInvoiceRecord,
    Partner,
    PartnerEndpoint,
)
from roaming.ocpi.v2_2_1.types import format_datetime
from roaming.services.invoicereconciliation import (
    issued_invoice_record_push,
    issued_invoice_record_put,
    issued_invoice_records_due,
)
from roaming.sync import SyncError
from roaming.sync_invoices import invoice_records_pull
from tests.roaming.conftest import OcpiTestClient, registered_partner

URL = "/ocpi/2.3.0/invoicereconciliation"


def record(record_id: str = "IR-1", **changes: Any) -> dict[str, Any]:
    body = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": record_id,
        "invoice_id": "INV-2026-03",
        "cdrs": ["CDR-1", "cdr-2"],
        "last_updated": "2026-04-02T10:00:00Z",
    }
    return body | changes


def url(body: dict[str, Any]) -> str:
    return f"{URL}/{body['country_code']}/{body['party_id']}/{body['id']}"


def test_a_record_put_is_stored_and_read_back_as_sent(ocpi: OcpiTestClient, cpo: tuple[Partner, str]) -> None:
    body = record(note="kept")  # a field OCPI does not define is kept and served back
    reply = ocpi.put(url(body), body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body

    stored = InvoiceReconciliationRecord.objects.get()
    assert (stored.partner, stored.invoice_id, stored.cdr_ids) == (cpo[0], "INV-2026-03", ["CDR-1", "cdr-2"])
    # The CDR ids are matched without regard to case: keyed in upper case under the record's party.
    assert sorted(InvoiceReconciliationCdr.objects.values_list("country_code", "party_id", "cdr_key")) == [
        ("BE", "BEC", "CDR-1"),
        ("BE", "BEC", "CDR-2"),
    ]
    got = ocpi.get(url(body))
    assert (got.http_status, got.status_code, got.data) == (200, 1000, body)


def test_a_changed_record_replaces_its_cdr_list(ocpi: OcpiTestClient) -> None:
    ocpi.put(url(record()), record())
    newer = record(cdrs=["CDR-3"], invoice_id="INV-2026-03b", last_updated="2026-04-03T10:00:00Z")
    reply = ocpi.put(url(newer), newer)
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert ocpi.get(url(newer)).data == newer
    assert list(InvoiceReconciliationCdr.objects.values_list("cdr_key", flat=True)) == ["CDR-3"]


def test_a_stale_update_is_not_applied(ocpi: OcpiTestClient) -> None:
    ocpi.put(url(record()), record())
    older = record(cdrs=["OLD"], last_updated="2026-04-01T10:00:00Z")
    reply = ocpi.put(url(older), older)
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert "Not applied" in reply.body["status_message"]
    assert ocpi.get(url(older)).data["cdrs"] == ["CDR-1", "cdr-2"]


def test_a_record_posted_to_the_module_url_is_created_and_a_resend_accepted(ocpi: OcpiTestClient) -> None:
    reply = ocpi.post(URL, record())
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    again = ocpi.post(URL, record())
    assert (again.http_status, again.status_code) == (200, 1000)
    assert InvoiceReconciliationRecord.objects.count() == 1
    assert ocpi.get(url(record())).data == record()


def test_delete_withdraws_the_record_and_only_a_newer_version_brings_it_back(ocpi: OcpiTestClient) -> None:
    ocpi.put(url(record()), record())
    assert ocpi.delete(url(record())).status_code == 1000
    assert ocpi.get(url(record())).http_status == 404
    stored = InvoiceReconciliationRecord.objects.get()
    assert stored.deleted_at is not None  # kept, flagged: its CDR ids count for nothing
    assert not InvoiceReconciliationCdr.objects.exists()
    assert "already deleted" in ocpi.delete(url(record())).body["status_message"]

    again = ocpi.put(url(record()), record())  # a late resend of the withdrawn version
    assert "Not applied" in again.body["status_message"]
    assert ocpi.get(url(record())).http_status == 404
    newer = record(last_updated="2026-04-09T00:00:00Z")
    assert ocpi.put(url(newer), newer).status_code == 1000
    assert ocpi.get(url(record())).data == newer
    assert InvoiceReconciliationCdr.objects.count() == 2


def test_unknown_records_answer_404(ocpi: OcpiTestClient) -> None:
    assert (ocpi.get(f"{URL}/BE/BEC/NOPE").http_status, ocpi.delete(f"{URL}/BE/BEC/NOPE").http_status) == (404, 404)


def test_a_record_of_another_party_is_refused(client: Client, ocpi: OcpiTestClient) -> None:
    other, token = registered_partner("Other CPO", [("NL", "OTH")])
    theirs = record(country_code="NL", party_id="OTH")
    assert OcpiTestClient(client, token).put(url(theirs), theirs).status_code == 1000

    # Not one of this connection's parties: neither read, nor written, nor deleted.
    assert (ocpi.get(url(theirs)).http_status, ocpi.get(url(theirs)).status_code) == (404, 2001)
    assert ocpi.put(url(theirs), theirs).http_status == 404
    assert ocpi.post(URL, theirs).http_status == 404
    assert ocpi.delete(url(theirs)).http_status == 404
    assert InvoiceReconciliationRecord.objects.get().partner == other


def test_url_and_body_must_agree_and_the_module_has_no_patch(ocpi: OcpiTestClient) -> None:
    reply = ocpi.put(f"{URL}/BE/BEC/OTHER", record())
    assert reply.status_code == 2001
    assert ocpi.put(url(record()), record(cdrs=[])).status_code == 2001  # at least one CDR (cardinality +)
    assert ocpi.patch(url(record()), {"last_updated": "2026-04-03T10:00:00Z"}).http_status == 405
    assert not InvoiceReconciliationRecord.objects.exists()


def test_2_3_0_is_announced_with_every_2_2_1_module_and_invoice_reconciliation(ocpi: OcpiTestClient) -> None:
    versions = ocpi.get("/ocpi/versions")
    assert [v["version"] for v in versions.data] == ["2.2.1", "2.3.0", "2.1.1"]
    details = ocpi.get("/ocpi/2.3.0")
    assert details.status_code == 1000
    modules = {(e["identifier"], e["role"]) for e in details.data["endpoints"]}
    served_221 = {(e["identifier"], e["role"]) for e in ocpi.get("/ocpi/2.2.1").data["endpoints"]}
    assert modules == served_221 | {("invoicereconciliation", "RECEIVER"), ("invoicereconciliation", "SENDER")}
    assert ocpi.get("/ocpi/2.3.0/credentials").status_code == 1000


# --- pulling a CPO's Sender list -------------------------------------------------------------------------


class _Sender(BaseHTTPRequestHandler):
    """A CPO's invoicereconciliation Sender: two pages linked by `Link`, each request remembered."""

    url: str
    pages: list[list[Any]]
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        query = parse_qs(urlsplit(self.path).query)
        page = int(query.get("page", ["0"])[0])
        body = json.dumps({"data": self.pages[page], "status_code": 1000, "timestamp": "2026-04-05T00:00:00Z"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if page + 1 < len(self.pages):
            self.send_header("Link", f'<{self.url}?page={page + 1}>; rel="next"')
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sender() -> Iterator[tuple[str, type[_Sender]]]:
    handler: type[_Sender] = type("Sender", (_Sender,), {"pages": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/ir"
    yield handler.url, handler
    server.shutdown()
    server.server_close()


def test_the_pull_reads_every_page_into_the_same_records(
    cpo: tuple[Partner, str], sender: tuple[str, type[_Sender]]
) -> None:
    partner = cpo[0]
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.save()
    sender_url, handler = sender
    PartnerEndpoint.objects.create(partner=partner, module="invoicereconciliation", role="SENDER", url=sender_url)
    InvoiceReconciliationRecord.objects.create(
        partner=partner, country_code="BE", party_id="BEC", ocpi_id="IR-2", invoice_id="X", cdr_ids=["A"],
        last_updated="2026-05-01T00:00:00Z",
    )  # fmt: skip
    handler.pages = [
        [record("IR-1"), {"id": "broken"}],
        [record("IR-2"), record("IR-3", country_code="NL", party_id="OTH"), record("IR-4", party_id="ALL")],
    ]
    result = invoice_records_pull(partner=partner)
    # IR-2 is older than ours (stale), IR-3 is another party's, IR-4 names a party this CPO does not have
    # under BE (DE/ALL is its other party): both skipped with the broken object.
    assert (result.created, result.updated, result.stale) == (1, 0, 1)
    assert sorted(InvoiceReconciliationRecord.objects.values_list("ocpi_id", flat=True)) == ["IR-1", "IR-2"]
    assert len(handler.seen) == 2
    assert "limit=" in handler.seen[0]


def test_the_pull_needs_a_sender_endpoint(cpo: tuple[Partner, str]) -> None:
    with pytest.raises(SyncError):
        invoice_records_pull(partner=cpo[0])


# --- reverse billing: our own records, on our Sender and pushed to the CPO's Receiver ----------------------


class _Receiver(BaseHTTPRequestHandler):
    """A CPO's invoicereconciliation Receiver: remembers each call, answers `status` (HTTP)."""

    calls: list[tuple[str, str, Any]]
    status: int

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append((self.command, self.path, body))
        code = 1000 if self.status < 400 else 3000
        payload = json.dumps({"status_code": code, "timestamp": "2026-12-01T00:00:00Z"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler: type[_Receiver] = type("Receiver", (_Receiver,), {"calls": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cpo/2.3.0/invoicereconciliation", handler
    server.shutdown()
    server.server_close()


def test_our_records_are_listed_on_our_sender_for_their_cpo_only(
    client: Client, ocpi: OcpiTestClient, cpo: tuple[Partner, str]
) -> None:
    other, other_token = registered_partner("Other CPO", [("NL", "OTH")])
    with patch("roaming.services.invoicereconciliation.enqueue"):
        first = issued_invoice_record_put(partner=cpo[0], record_id="CRC-1", invoice_id="CRC-1", cdr_ids=["CDR-1"])
        issued_invoice_record_put(partner=cpo[0], record_id="CRC-2", invoice_id="CRC-2", cdr_ids=["a", "b"])
        issued_invoice_record_put(partner=other, record_id="CRC-3", invoice_id="CRC-3", cdr_ids=["X"])
    listed = ocpi.get(f"{URL}?limit=1")
    assert (listed.http_status, listed.status_code) == (200, 1000)
    assert listed.data == [
        {
            "country_code": "NL",
            "party_id": "EMS",
            "id": "CRC-1",
            "invoice_id": "CRC-1",
            "cdrs": ["CDR-1"],
            "last_updated": format_datetime(first.last_updated),
        }
    ]
    assert listed.headers["X-Total-Count"] == "2"
    assert "offset=1" in listed.headers["Link"]
    later = format_datetime(first.last_updated + timedelta(seconds=1))
    assert ocpi.get(f"{URL}?date_from={later}").data == []
    assert [r["id"] for r in OcpiTestClient(client, other_token).get(URL).data] == ["CRC-3"]


def test_a_record_is_queued_with_its_write_then_posted_and_a_change_put(
    cpo: tuple[Partner, str],
    receiver: tuple[str, type[_Receiver]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    partner = cpo[0]
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.save()
    url, handler = receiver
    PartnerEndpoint.objects.create(partner=partner, module="invoicereconciliation", role="RECEIVER", url=url)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = issued_invoice_record_put(partner=partner, record_id="CRC-1", invoice_id="CRC-1", cdr_ids=["C1"])
    # Written in the record's transaction: the outbox row survives a broker that is down.
    assert list(OutboxTask.objects.values_list("task", "args")) == [("roaming.push_invoice_record", [record.pk])]
    assert list(issued_invoice_records_due()) == [record]
    for callback in callbacks:
        callback()
    assert [(m, p) for m, p, _ in handler.calls] == [("POST", "/cpo/2.3.0/invoicereconciliation")]
    assert handler.calls[0][2]["cdrs"] == ["C1"]
    record.refresh_from_db()
    assert record.pushed_version == record.last_updated
    assert not issued_invoice_records_due().exists()
    assert issued_invoice_record_push(record_id=record.pk).skipped  # a redelivered task sends nothing

    handler.status = 500  # the CPO is down when the invoice is corrected
    with patch("roaming.services.invoicereconciliation.enqueue"):
        changed = issued_invoice_record_put(partner=partner, record_id="CRC-1", invoice_id="CRC-1", cdr_ids=["C2"])
    assert changed.last_updated > record.last_updated  # newer, or the CPO would ignore it as stale
    failed = issued_invoice_record_push(record_id=changed.pk)
    assert failed.error
    assert not failed.sent
    changed.refresh_from_db()
    assert (changed.push_failures, changed.pushed_version) == (1, record.last_updated)
    assert not issued_invoice_records_due().exists()  # backing off
    IssuedInvoiceRecord.objects.filter(pk=changed.pk).update(next_push_at=None)
    handler.status = 200
    assert issued_invoice_record_push(record_id=changed.pk).sent
    assert handler.calls[-1][:2] == ("PUT", "/cpo/2.3.0/invoicereconciliation/NL/EMS/CRC-1")
    assert handler.calls[-1][2]["cdrs"] == ["C2"]
