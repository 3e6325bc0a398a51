"""The CPO Receiver side of the commands module.

The HTTP answer is the CPO's own verdict (CommandResponse); what the "charge point" did comes
later as a CommandResult POSTed to the EMSP's `response_url`, from the outbox after the answer
was written. `responses` / `results` let tests force any outcome per command type, including
`"NONE"` for a result that never arrives (the EMSP's timeout path).
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from cposim import protocol
from cposim.charging import OCCUPIED, Charging, ChargingError
from cposim.clock import Clock
from cposim.network import Network, Overlay, find_connector, find_evse, render_location
from cposim.outbox import Job
from cposim.protocol import Response
from cposim.pushes import Pusher
from cposim.state import Store

log = logging.getLogger("cposim")

TOKEN_FIELDS = ("uid", "type", "contract_id")


class Commands:
    def __init__(
        self,
        *,
        charging: Charging,
        network: Network,
        overlay: Overlay,
        store: Store,
        pusher: Pusher,
        clock: Clock,
        timeout: int,
    ) -> None:
        self.charging = charging
        self.network = network
        self.overlay = overlay
        self.store = store
        self.pusher = pusher
        self.clock = clock
        self.timeout = timeout
        # Forced synchronous CommandResponse per command type, e.g. {"START_SESSION": "REJECTED"}.
        self.responses: dict[str, str] = {}
        # Forced CommandResult per command type, e.g. {"STOP_SESSION": "FAILED"}; "NONE" = never sent.
        self.results: dict[str, str] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(store.count("command") + 1)

    # entry point --------------------------------------------------------------------------

    def receive(self, command: str, body: Any) -> tuple[Response, Job | None]:
        if not isinstance(body, dict) or not isinstance(body.get("response_url"), str):
            return Response.error(200, protocol.INVALID_PARAMETERS, "response_url is required"), None
        wire = self.pusher.wire
        received, body = body, wire.command_in(command, body)
        with self._lock:  # requests arrive on concurrent server threads
            record_key = f"{next(self._numbers):06d}"
        record: dict[str, Any] = {
            "id": record_key,
            "command": command,
            "body": received,
            "received_at": protocol.format_dt(self.clock.now()),
        }
        handler = {
            "START_SESSION": self._start,
            "STOP_SESSION": self._stop,
            "RESERVE_NOW": self._reserve,
            "CANCEL_RESERVATION": self._cancel,
            "UNLOCK_CONNECTOR": self._unlock,
        }[command]
        response, verdict, job = handler(body)
        if verdict is not None and command in self.responses:
            verdict, job = self.responses[command], None
        record["response"] = verdict if verdict is not None else response.status_code
        self.store.put("command", record_key, record)
        log.info("command %s received: %s", command, record["response"])
        if verdict is None:
            return response, None
        data = wire.command_response(verdict, self.timeout)
        if verdict != "ACCEPTED":
            return Response.ok(data), None
        return Response.ok(data), (lambda: self._finish(record_key, command, body["response_url"], job))

    def _finish(self, record_key: str, command: str, response_url: str, job: Job | None) -> None:
        """Post the CommandResult (forced or from the work itself) and remember it."""
        forced = self.results.get(command)
        if forced == "NONE":
            log.info("command %s: CommandResult deliberately not sent", command)
            result = "NONE"
        elif forced is not None:
            result = forced
            self.pusher.command_result(response_url, result)
        else:
            result = "ACCEPTED"
            try:
                if job is not None:
                    job()
            except ChargingError as exc:
                result = exc.result
                self.pusher.command_result(response_url, result, str(exc))
        record = dict(self.store.get("command", record_key))
        record["result"] = result
        self.store.put("command", record_key, record)

    # the commands -------------------------------------------------------------------------

    def _location(self, location_id: Any) -> tuple[int, dict[str, Any]] | None:
        if not isinstance(location_id, str):
            return None
        index = self.network.index_of(location_id)
        if index is None or index in self.overlay.vanished:
            return None
        return index, render_location(self.network, self.overlay, index)

    @staticmethod
    def _unknown_location() -> Response:
        return Response.error(200, protocol.UNKNOWN_LOCATION, "Unknown location")

    @staticmethod
    def _invalid(message: str) -> tuple[Response, None, None]:
        return Response.error(200, protocol.INVALID_PARAMETERS, message), None, None

    def _start(self, body: dict[str, Any]) -> tuple[Response, str | None, Job | None]:
        token = body.get("token")
        if not isinstance(token, dict) or any(not isinstance(token.get(k), str) for k in TOKEN_FIELDS):
            return self._invalid("token with uid, type and contract_id is required")
        if body.get("connector_id") and not body.get("evse_uid"):
            return self._invalid("connector_id needs evse_uid")
        found = self._location(body.get("location_id"))
        if found is None:
            return self._unknown_location(), None, None
        index, location = found
        if body.get("evse_uid"):
            evse = find_evse(location, str(body["evse_uid"]))
            if evse is None:
                return Response.ok(), "REJECTED", None
            if body.get("connector_id") and find_connector(evse, str(body["connector_id"])) is None:
                return Response.ok(), "REJECTED", None
        else:
            capable = [e for e in location["evses"] if "REMOTE_START_STOP_CAPABLE" in e.get("capabilities", [])]
            free = [e for e in capable if e["status"] == "AVAILABLE"]
            if not capable:
                return Response.ok(), "NOT_SUPPORTED", None
            evse = (free or capable)[0]
        party = self.pusher.credentials.peer_party() or ("", "")
        cdr_token = {
            "country_code": token.get("country_code", party[0]),
            "party_id": token.get("party_id", party[1]),
            "uid": token["uid"],
            "type": token["type"],
            "contract_id": token["contract_id"],
        }
        evse_uid = str(evse["uid"])
        connector_id = body.get("connector_id")
        response_url = body["response_url"]

        def work() -> None:
            current = find_evse(render_location(self.network, self.overlay, index), evse_uid)
            status = current["status"] if current else "UNKNOWN"
            reservation = self._reservation_for(index, evse_uid, token["uid"]) if status == "RESERVED" else None
            if status != "AVAILABLE" and reservation is None:
                result = "EVSE_OCCUPIED" if status in OCCUPIED else "EVSE_INOPERATIVE"
                raise ChargingError(result, f"EVSE {evse_uid} is {status}")
            self.pusher.command_result(response_url, "ACCEPTED")
            if reservation is not None:
                self.store.delete("reservation", reservation)
            self.charging.start(
                index=index,
                evse_uid=evse_uid,
                connector_id=str(connector_id) if connector_id else None,
                cdr_token=cdr_token,
                auth_method="COMMAND",
                authorization_reference=body.get("authorization_reference"),
                allow_reserved=reservation is not None,
            )

        return Response.ok(), "ACCEPTED", work

    def _stop(self, body: dict[str, Any]) -> tuple[Response, str | None, Job | None]:
        session_id = body.get("session_id")
        if not isinstance(session_id, str):
            return self._invalid("session_id is required")
        if self.store.get("session", session_id) is None:
            return Response.ok(), "UNKNOWN_SESSION", None
        if session_id not in self.charging.runs:
            return Response.ok(), "REJECTED", None
        response_url = body["response_url"]

        def work() -> None:
            if session_id not in self.charging.runs:
                raise ChargingError("REJECTED", f"session {session_id} already stopped")
            self.pusher.command_result(response_url, "ACCEPTED")
            self.charging.stop(session_id)

        return Response.ok(), "ACCEPTED", work

    def _reservation_for(self, index: int, evse_uid: str, token_uid: str) -> str | None:
        for key, reservation in self.store.items("reservation"):
            if (
                reservation["location_index"] == index
                and reservation["evse_uid"] == evse_uid
                and reservation["token_uid"] == token_uid
            ):
                return key
        return None

    def _reserve(self, body: dict[str, Any]) -> tuple[Response, str | None, Job | None]:
        token = body.get("token")
        reservation_id = body.get("reservation_id")
        if not isinstance(token, dict) or not isinstance(token.get("uid"), str) or not isinstance(reservation_id, str):
            return self._invalid("token, reservation_id and expiry_date are required")
        if not isinstance(body.get("expiry_date"), str):
            return self._invalid("expiry_date is required")
        found = self._location(body.get("location_id"))
        if found is None:
            return self._unknown_location(), None, None
        index, location = found
        reservable = [e for e in location["evses"] if "RESERVABLE" in e.get("capabilities", [])]
        if body.get("evse_uid"):
            evse = find_evse(location, str(body["evse_uid"]))
            if evse is None:
                return Response.ok(), "REJECTED", None
            if "RESERVABLE" not in evse.get("capabilities", []):
                return Response.ok(), "NOT_SUPPORTED", None
        elif reservable:
            evse = next((e for e in reservable if e["status"] == "AVAILABLE"), reservable[0])
        else:
            return Response.ok(), "NOT_SUPPORTED", None
        evse_uid = str(evse["uid"])
        response_url = body["response_url"]
        key = f"{location['id']}/{reservation_id}"

        def work() -> None:
            current = find_evse(render_location(self.network, self.overlay, index), evse_uid)
            status = current["status"] if current else "UNKNOWN"
            replacing = self.store.get("reservation", key) is not None
            if status != "AVAILABLE" and not replacing:
                raise ChargingError(
                    "EVSE_OCCUPIED" if status in OCCUPIED else "EVSE_INOPERATIVE", f"EVSE {evse_uid} is {status}"
                )
            self.pusher.command_result(response_url, "ACCEPTED")
            self.store.put(
                "reservation",
                key,
                {
                    "reservation_id": reservation_id,
                    "location_index": index,
                    "evse_uid": evse_uid,
                    "token_uid": token["uid"],
                    "expiry_date": body["expiry_date"],
                },
            )
            self.charging.set_evse_status(index, evse_uid, "RESERVED")

        return Response.ok(), "ACCEPTED", work

    def _cancel(self, body: dict[str, Any]) -> tuple[Response, str | None, Job | None]:
        reservation_id = body.get("reservation_id")
        if not isinstance(reservation_id, str):
            return self._invalid("reservation_id is required")
        response_url = body["response_url"]

        def work() -> None:
            for key, reservation in self.store.items("reservation"):
                if reservation["reservation_id"] == reservation_id:
                    self.pusher.command_result(response_url, "ACCEPTED")
                    self.store.delete("reservation", key)
                    self.charging.set_evse_status(reservation["location_index"], reservation["evse_uid"], "AVAILABLE")
                    return
            raise ChargingError("UNKNOWN_RESERVATION", f"no reservation {reservation_id}")

        return Response.ok(), "ACCEPTED", work

    def _unlock(self, body: dict[str, Any]) -> tuple[Response, str | None, Job | None]:
        found = self._location(body.get("location_id"))
        if found is None:
            return self._unknown_location(), None, None
        _, location = found
        evse = find_evse(location, str(body.get("evse_uid", "")))
        if evse is None or find_connector(evse, str(body.get("connector_id", ""))) is None:
            return Response.ok(), "REJECTED", None
        if "UNLOCK_CAPABLE" not in evse.get("capabilities", []):
            return Response.ok(), "NOT_SUPPORTED", None
        response_url = body["response_url"]

        def work() -> None:
            self.pusher.command_result(response_url, "ACCEPTED")

        return Response.ok(), "ACCEPTED", work
