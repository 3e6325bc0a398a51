"""Configuration of one simulated CPO platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ChaosConfig:
    """Misbehaviour switches; all shares are 0..1 and all choices come from a seeded RNG.

    Latency, 500s and timeouts hit incoming requests on functional modules only (versions and
    credentials stay clean so a handshake can always be made). Duplicates and out-of-order apply to
    the simulator's own pushes to the EMSP.
    """

    latency_ms: int = 0
    error_share: float = 0.0
    timeout_share: float = 0.0
    timeout_hold_seconds: float = 35.0
    throttle_share: float = 0.0
    throttle_retry_after_seconds: int = 1
    duplicate_share: float = 0.0
    out_of_order_share: float = 0.0


@dataclass
class SimConfig:
    """Everything that defines a simulator instance; the same config and seed give the same network."""

    seed: int = 42
    locations: int = 30
    country_code: str = "NL"
    party_id: str = "SIM"
    operator_name: str = "Simulated Charging B.V."
    operator_website: str = "https://cpo.example.com"
    host: str = "127.0.0.1"
    port: int = 0
    # URL the simulator advertises (versions URL, Link headers); defaults to http://host:port.
    public_url: str | None = None
    # Regions the network is spread over (keys of cposim.network.REGIONS).
    regions: tuple[str, ...] = ("NL", "BE", "DE")
    # Relative weights for 1, 2, 3, ... EVSEs per location (default averages ~5).
    evse_weights: tuple[int, ...] = (2, 3, 5, 10, 30, 50)
    # Server-side maximum page size (X-Limit) for every list endpoint.
    page_limit: int = 1000
    # Token A handed out for the EMSP to register with; generated when not given.
    token_a: str | None = None
    db_path: str | None = None
    # The OCPI version spoken: "2.2.1", "2.1.1" or "2.3.0" (see cposim.wire).
    ocpi_version: str = "2.2.1"
    # Further versions listed (after ocpi_version) and spoken if the EMSP picks one, e.g. ("2.2.1",) next to
    # "2.3.0", for testing version negotiation. Not 2.1.1, whose transport differs.
    also_versions: tuple[str, ...] = ()
    # Invoice each month by itself once the simulated clock has moved past its end (cposim.invoicing
    # `catch_up`, run when the clock is advanced); off: only on request (`run_monthly_invoicing`, /control).
    auto_invoicing: bool = False
    # What 2.3.0 tariffs say of their prices: "NO" (excl. VAT, as the simulator keeps them) or "YES" (each price
    # component with a `vat` is sent with VAT added). The simulator prices the same either way.
    tax_included: str = "NO"
    # Session ids are this plus a counter (S000001, ...); CDR ids follow them. A simulator that forgets its state
    # (no db_path) and restarts against the same EMSP needs another prefix, or its new sessions reuse old ids.
    session_id_prefix: str = "S"
    # Location ids are this plus six digits (LOC000001, ...); EVSE uids follow them. Parties behind one hub
    # (cposim.hub) each get their own, so an id names one location across the hub.
    location_id_prefix: str = "LOC"
    # Frozen simulated clock for tests; None = follow the wall clock.
    start_time: datetime | None = None
    # First `last_updated` of the generated network (objects are spread over a year after it).
    epoch: datetime | None = None
    # Send our token to the EMSP Base64-encoded (2.2.1) or raw (what many 2.1.1/2.2 parties do).
    encode_outgoing_token: bool = True
    request_timeout: float = 10.0
    # CommandResponse.timeout in seconds.
    command_timeout: int = 30
    # Post CommandResults and follow-up pushes from a worker thread (True) or inline after the
    # response was written (False). Either way `Simulator.flush()` waits for them.
    async_callbacks: bool = True
    # Share of CDRs published with a deliberately wrong total_cost.
    wrong_total_share: float = 0.0
    # Live drivers (`run_live`), each with one of the EMSP's RFID cards: the share of swipes made with a card
    # the EMSP never issued (a foreign or misread card), and the chance that a driver whose card the EMSP pushed
    # as invalid (blocked, lost) tries it anyway when their turn comes. Both end in a refusal by the EMSP.
    stranger_card_share: float = 0.05
    invalid_card_tries: float = 0.02
    # Answer the last page with an empty `Link:` header instead of none (seen at real partners).
    empty_link_on_last_page: bool = False
    chaos: ChaosConfig = field(default_factory=ChaosConfig)
