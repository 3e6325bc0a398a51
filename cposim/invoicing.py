"""Monthly invoicing of a direct-billing CPO, told to the EMSP with OCPI 2.3.0 Invoice Reconciliation.

Once a month the CPO invoices the EMSP for the CDRs it sent it that month (by the CDR's `last_updated`, the
moment it was POSTed, in UTC): one invoice per month, `INV-2026-11`, and one InvoiceReconciliationRecord
`{country_code, party_id, id, invoice_id, cdrs, last_updated}` that names its CDRs (module
`invoicereconciliation`, 2.3.0 ed2; the CPO is the Sender). The record is pushed to the EMSP's Receiver (a POST
to the module URL the first time, a PUT at `/{country_code}/{party_id}/{id}` when the month is invoiced again)
and listed on our own Sender interface, `GET /ocpi/2.3.0/invoicereconciliation`, for a pull.

Reverse billing (the EMSP invoices us for credits) uses the same module the other way round: the simulator is
also a Receiver at the same URL (POST a new record; PUT, GET, DELETE it at `/{country_code}/{party_id}/{id}`),
announced as such in its 2.3.0 details, and keeps the EMSP's records (`received_records`).

The module exists in 2.3.0 only, and this works whatever version the simulator speaks otherwise: when the
version agreed with the EMSP is not 2.3.0 (or its details lack the module), the EMSP's 2.3.0 details are read
from its versions list, and when that does not list 2.3.0 either, from the URL of the agreed version's details
with the version swapped (`.../2.2.1` -> `.../2.3.0`): an EMSP may route 2.3.0 before announcing it (ours
does, roaming/ocpi/urls.py UNANNOUNCED_VERSIONS).

Faults for testing an EMSP's reconciliation (`faults`, any of `FAULTS`):
- `unknown_cdr`: the invoice also names a CDR id that was never sent (`CDR-UNSENT-2026-11`);
- `left_out`: the last CDR sent that month is not named;
- `double`: the invoice also names a CDR an earlier invoice named (the last CDR of the latest earlier record).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from cposim import protocol
from cposim.clock import Clock
from cposim.credentials import Credentials
from cposim.peer import Call, Peer
from cposim.state import Store

log = logging.getLogger("cposim")

MODULE = "invoicereconciliation"
VERSION = "2.3.0"
FAULTS = ("unknown_cdr", "left_out", "double")


class InvoicingError(Exception):
    """The month cannot be invoiced (nothing to name, a fault that cannot be made, an unknown fault)."""


@dataclass
class MonthlyInvoice:
    """One month's invoice: the record sent, what went into it, and the push."""

    month: str  # "2026-11"
    invoice_id: str
    record: dict[str, Any]
    # CDRs sent to the EMSP that month, in the order sent.
    sent: list[str]
    unknown_cdr: str | None = None
    left_out: str | None = None
    double: str | None = None
    # The push to the EMSP's Receiver; None when there is no Receiver to push to.
    call: Call | None = None
    # Discovery calls made to find the Receiver (versions, details).
    lookups: list[Call] = field(default_factory=list)

    @property
    def pushed(self) -> bool:
        return self.call is not None and self.call.ok


def month_key(month: str | date) -> tuple[int, int]:
    if isinstance(month, date):
        return month.year, month.month
    try:
        year, number = (int(part) for part in month.split("-"))
    except ValueError:
        raise InvoicingError(f"month must be YYYY-MM, not {month!r}") from None
    if not 1 <= number <= 12:
        raise InvoicingError(f"month must be YYYY-MM, not {month!r}")
    return year, number


def month_bounds(year: int, number: int) -> tuple[datetime, datetime]:
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


class Invoicing:
    def __init__(
        self, *, store: Store, peer: Peer, credentials: Credentials, clock: Clock, own_party: tuple[str, str]
    ) -> None:
        self.store = store
        self.peer = peer
        self.credentials = credentials
        self.clock = clock
        self.own_party = own_party
        # One month at a time: the control endpoint runs on the server's threads.
        self._lock = threading.Lock()

    # the monthly run by itself (SimConfig.auto_invoicing) ---------------------------------------

    def start_months(self) -> None:
        """Remember the month the simulator started in (once): the first the automatic run invoices."""
        if self.store.get("meta", "invoicing_from") is None:
            now = self.clock.now()
            self.store.put("meta", "invoicing_from", f"{now.year:04d}-{now.month:02d}")

    def catch_up(self) -> list[MonthlyInvoice]:
        """Invoice every month that has ended since the last one invoiced this way (the first: the month the
        simulator started in); a month in which no CDR was sent has no invoice. Returns the invoices made."""
        made: list[MonthlyInvoice] = []
        year, number = month_key(self.store.get("meta", "invoicing_from") or "1970-01")
        now = self.clock.now()
        while month_bounds(year, number)[1] <= now:
            label = f"{year:04d}-{number:02d}"
            if self.sent_cdr_ids(year, number):
                made.append(self.run_monthly(label))
            year, number = (year + 1, 1) if number == 12 else (year, number + 1)
            self.store.put("meta", "invoicing_from", f"{year:04d}-{number:02d}")
        return made

    # the EMSP's records of its invoices to us (reverse billing), on our Receiver -------------------

    @staticmethod
    def _received_key(country_code: str, party_id: str, record_id: str) -> str:
        return "/".join(part.upper() for part in (country_code, party_id, record_id))

    def receive(self, record: dict[str, Any]) -> str:
        """Store a record the EMSP sent: "created", "updated", or "stale" (ours is newer; kept). ValueError: its
        last_updated is not a DateTime."""
        key = self._received_key(record["country_code"], record["party_id"], record["id"])
        incoming = protocol.parse_dt(record["last_updated"])
        with self._lock:
            stored = self.store.get("received_invoice", key)
            if stored is not None and protocol.parse_dt(stored["last_updated"]) > incoming:
                return "stale"
            self.store.put("received_invoice", key, record)
        log.info(
            "invoice reconciliation record %s received: invoice %s, %d CDRs",
            key,
            record["invoice_id"],
            len(record["cdrs"]),
        )
        return "updated" if stored is not None else "created"

    def received(self, country_code: str, party_id: str, record_id: str) -> dict[str, Any] | None:
        return self.store.get("received_invoice", self._received_key(country_code, party_id, record_id))

    def received_delete(self, country_code: str, party_id: str, record_id: str) -> bool:
        key = self._received_key(country_code, party_id, record_id)
        with self._lock:
            if self.store.get("received_invoice", key) is None:
                return False
            self.store.delete("received_invoice", key)
        return True

    def received_records(self) -> list[dict[str, Any]]:
        """The EMSP's records we hold, in arrival order."""
        return self.store.values("received_invoice")

    # our own records (direct billing) --------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every record made, oldest first (our Sender list)."""
        return [entry["record"] for entry in self.store.values("invoice")]

    def sent_cdr_ids(self, year: int, number: int) -> list[str]:
        """The CDRs POSTed to the EMSP (and taken by it) in that month, in the order sent."""
        start, end = month_bounds(year, number)
        ids = []
        for cdr in self.store.values("cdr"):
            meta = self.store.get("cdr_meta", cdr["id"]) or {}
            if meta.get("posted") and start <= protocol.parse_dt(cdr["last_updated"]) < end:
                ids.append(cdr["id"])
        return ids

    def run_monthly(self, month: str | date, faults: Iterable[str] = ()) -> MonthlyInvoice:
        """Invoice one month: make (or remake) its record, push it, keep it for our Sender list."""
        with self._lock:
            return self._run_monthly(month, faults)

    def _run_monthly(self, month: str | date, faults: Iterable[str]) -> MonthlyInvoice:
        wanted = set(faults)
        unknown = wanted - set(FAULTS)
        if unknown:
            raise InvoicingError(f"unknown faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
        year, number = month_key(month)
        label = f"{year:04d}-{number:02d}"
        record_id, invoice_id = f"IR-{label}", f"INV-{label}"
        sent = self.sent_cdr_ids(year, number)
        invoice = MonthlyInvoice(month=label, invoice_id=invoice_id, record={}, sent=sent)
        named = list(sent)
        if "left_out" in wanted:
            if not named:
                raise InvoicingError(f"no CDR was sent in {label}, so none can be left out")
            invoice.left_out = named.pop()
        if "double" in wanted:
            earlier = [r for r in self.records() if r["id"] != record_id]
            if not earlier:
                raise InvoicingError("no earlier invoice, so no CDR can be named a second time")
            invoice.double = earlier[-1]["cdrs"][-1]
            named.append(invoice.double)
        if "unknown_cdr" in wanted:
            invoice.unknown_cdr = f"CDR-UNSENT-{label}"
            named.append(invoice.unknown_cdr)
        if not named:
            raise InvoicingError(f"no CDR was sent in {label}: nothing to invoice")
        previous = self.store.get("invoice", record_id)
        now = self.clock.now().replace(microsecond=0)
        if previous is not None:
            # A record invoiced again must be newer than the one the EMSP holds, or it is ignored as stale.
            before = protocol.parse_dt(previous["record"]["last_updated"])
            now = max(now, before + timedelta(seconds=1))
        country_code, party_id = self.own_party
        invoice.record = {
            "country_code": country_code,
            "party_id": party_id,
            "id": record_id,
            "invoice_id": invoice_id,
            "cdrs": named,
            "last_updated": protocol.format_dt(now),
        }
        pushed_before = bool(previous and previous.get("pushed"))
        invoice.call, invoice.lookups = self._push(invoice.record, update=pushed_before)
        self.store.put(
            "invoice",
            record_id,
            {
                "record": invoice.record,
                "pushed": pushed_before or invoice.pushed,
                "faults": {"unknown_cdr": invoice.unknown_cdr, "left_out": invoice.left_out, "double": invoice.double},
            },
        )
        log.info(
            "invoice %s: %d CDRs named (%d sent in %s)%s",
            invoice_id,
            len(named),
            len(sent),
            label,
            "" if invoice.pushed else ", not pushed",
        )
        return invoice

    # the EMSP's Receiver --------------------------------------------------------------------

    def _push(self, record: dict[str, Any], *, update: bool) -> tuple[Call | None, list[Call]]:
        state = self.credentials.state
        if not state.registered or not state.outbound_token:
            log.info("not registered with an EMSP; invoice reconciliation record %s not pushed", record["id"])
            return None, []
        url, lookups = self.receiver_url()
        if url is None:
            log.info("the EMSP has no %s Receiver; record %s not pushed", MODULE, record["id"])
            return None, lookups
        target = url
        if update:
            target = "/".join([url, *(quote(str(record[k]), safe="") for k in ("country_code", "party_id", "id"))])
        call = self.peer.request(
            "PUT" if update else "POST",
            target,
            token=state.outbound_token,
            module=MODULE,
            body=record,
            to=self.credentials.peer_party(),
        )
        return call, lookups

    def receiver_url(self) -> tuple[str | None, list[Call]]:
        """The EMSP's invoicereconciliation Receiver, and the calls it took to find it (see the module)."""
        known = self.credentials.endpoint(MODULE, "RECEIVER")
        if known is not None:
            return known, []
        state = self.credentials.state
        token = state.outbound_token
        if token is None or state.peer_versions_url is None:
            return None, []
        lookups = [self.peer.request("GET", state.peer_versions_url, token=token, module="versions")]
        listed = lookups[0].data if lookups[0].ok and isinstance(lookups[0].data, list) else []
        details_url = next(
            (v["url"] for v in listed if isinstance(v, dict) and v.get("version") == VERSION and v.get("url")), None
        )
        agreed = state.version or self.credentials.wire.version
        if details_url is None and state.peer_version_url and state.peer_version_url.rstrip("/").endswith(agreed):
            # Not announced: try the agreed version's URL with the version swapped.
            details_url = state.peer_version_url.rstrip("/")[: -len(agreed)] + VERSION
        if details_url is None:
            return None, lookups
        details = self.peer.request("GET", str(details_url), token=token, module="versions")
        lookups.append(details)
        endpoints = details.data.get("endpoints") if details.ok and isinstance(details.data, dict) else None
        for endpoint in endpoints or []:
            if (
                isinstance(endpoint, dict)
                and endpoint.get("identifier") == MODULE
                and endpoint.get("role") == "RECEIVER"
            ):
                return str(endpoint["url"]).rstrip("/"), lookups
        return None, lookups
