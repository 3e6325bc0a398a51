"""Pull sync against partners whose paging misbehaves, each played by a real HTTP server on loopback.

The partner lists 12 tariffs in pages of at most 5 (X-Limit), with X-Total-Count, and a `Link` that is good,
missing, on `https` (the server speaks plain HTTP), or to a path that does not exist; it may ignore `offset`,
or stop answering after some pages. Everything on our side is real: client, retries, sync, database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from emsp.lib.locks import held_while_alive
from roaming.models import Partner, PartnerEndpoint, SyncRun, Tariff
from roaming.sync import SyncError, sync_partner
from tests.roaming.conftest import registered_partner

pytestmark = pytest.mark.django_db(transaction=True)  # the client logs its calls from its prefetch thread

PATH = "/ocpi/2.2.1/tariffs"
PAGE = 5


def tariff(number: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PGS",
        "id": f"T{number:02d}",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        "last_updated": "2026-03-01T00:00:00Z",
    }


class PartnerServer(ThreadingHTTPServer):
    """A CPO's Tariffs Sender interface, with the paging faults to play."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.objects = [tariff(n) for n in range(12)]
        self.link = "good"  # "good", "missing", "https", "broken", "relative"
        self.total_count = True
        self.ignore_offset = False
        self.answers_left: int | None = None  # after that many pages, connections are dropped unanswered
        self.queries: list[dict[str, list[str]]] = []  # of the list requests answered or dropped

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}{PATH}"

    def offsets(self) -> list[int]:
        return [int(q.get("offset", ["0"])[0]) for q in self.queries]


class Handler(BaseHTTPRequestHandler):
    server: PartnerServer

    def do_GET(self) -> None:
        cpo = self.server
        parts = urlsplit(self.path)
        if parts.path != PATH:
            self.send_error(404)  # an HTML page, as web servers answer
            return
        query = parse_qs(parts.query)
        cpo.queries.append(query)
        if cpo.answers_left is not None:
            if cpo.answers_left <= 0:
                self.close_connection = True  # the partner is gone: no answer
                return
            cpo.answers_left -= 1
        offset = 0 if cpo.ignore_offset else int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", [str(PAGE)])[0]), PAGE)
        page = cpo.objects[offset : offset + limit]
        body = json.dumps({"data": page, "status_code": 1000, "timestamp": "2026-03-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Limit", str(PAGE))
        if cpo.total_count:
            self.send_header("X-Total-Count", str(len(cpo.objects)))
        following = offset + len(page)
        if following < len(cpo.objects) and cpo.link != "missing":
            base = {
                "good": cpo.url,
                "https": cpo.url.replace("http://", "https://"),
                "broken": cpo.url.replace("/tariffs", "/tarifs"),
                "relative": PATH,
            }[cpo.link]
            self.send_header("Link", f'<{base}?offset={following}&limit={limit}>; rel="next"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def cpo() -> Iterator[PartnerServer]:
    server = PartnerServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def partner(transactional_db: None, cpo: PartnerServer) -> Partner:
    partner, _ = registered_partner("Paging CPO", [("NL", "PGS")])
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.save()
    PartnerEndpoint.objects.create(partner=partner, module="tariffs", role="SENDER", url=cpo.url)
    return partner


def _pull(partner: Partner, *, full: bool = True) -> SyncRun:
    return sync_partner(partner=partner, module="tariffs", full=full)


def _stored() -> set[str]:
    return set(Tariff.objects.values_list("ocpi_id", flat=True))


def _removed() -> set[str]:
    return set(Tariff.objects.filter(removed_at__isnull=False).values_list("ocpi_id", flat=True))


def _ids(numbers: range) -> set[str]:
    return {f"T{n:02d}" for n in numbers}


def test_a_good_link_is_followed_and_nothing_is_noted(partner: Partner, cpo: PartnerServer) -> None:
    run = _pull(partner)
    assert (run.status, run.pages, run.seen, run.notes) == ("succeeded", 3, 12, "")
    assert _stored() == _ids(range(12))
    assert cpo.offsets() == [0, 5, 10]


def test_a_relative_link_is_followed_on_the_host_we_called(partner: Partner, cpo: PartnerServer) -> None:
    cpo.link = "relative"
    run = _pull(partner)
    assert (run.status, run.seen, run.notes) == ("succeeded", 12, "")
    assert cpo.offsets() == [0, 5, 10]


def test_no_link_while_more_remain_pages_by_offset(partner: Partner, cpo: PartnerServer) -> None:
    cpo.link = "missing"
    run = _pull(partner)
    assert (run.status, run.pages, run.seen, run.total_expected) == ("succeeded", 3, 12, 12)
    assert _stored() == _ids(range(12))
    assert run.notes == "no Link while X-Total-Count is 12: offset paging from offset 5"
    assert cpo.offsets() == [0, 5, 10]
    assert [q["limit"] for q in cpo.queries[1:]] == [[str(PAGE)], [str(PAGE)]]  # the partner's X-Limit, not ours


def test_offset_paging_keeps_the_filters_of_the_first_request(partner: Partner, cpo: PartnerServer) -> None:
    _pull(partner)
    cpo.link, cpo.queries = "missing", []
    run = _pull(partner, full=False)
    assert (run.mode, run.status, run.seen) == ("incremental", "succeeded", 12)
    date_from = cpo.queries[0]["date_from"]
    assert [q.get("date_from") for q in cpo.queries] == [date_from] * 3


def test_no_link_and_no_total_count_is_the_last_page(partner: Partner, cpo: PartnerServer) -> None:
    cpo.link, cpo.total_count = "missing", False
    run = _pull(partner)
    assert (run.status, run.pages, run.seen, run.notes) == ("succeeded", 1, 5, "")
    assert cpo.offsets() == [0]


def test_a_link_to_https_on_a_plain_http_server_is_not_followed(partner: Partner, cpo: PartnerServer) -> None:
    cpo.link = "https"
    run = _pull(partner)
    assert (run.status, run.seen) == ("succeeded", 12)
    assert _stored() == _ids(range(12))
    https = cpo.url.replace("http://", "https://")
    assert run.notes == (f"Link pointed at {https}?offset=5&limit=5 (we called {cpo.url}): offset paging from offset 5")
    assert cpo.offsets() == [0, 5, 10]  # every request reached the server we called


def test_a_link_that_fails_is_replaced_by_offset_paging(partner: Partner, cpo: PartnerServer) -> None:
    cpo.link = "broken"
    run = _pull(partner)
    assert (run.status, run.seen) == ("succeeded", 12)
    assert _stored() == _ids(range(12))
    assert run.notes.startswith(f"Link {cpo.url.replace('/tariffs', '/tarifs')}?offset=5&limit=5 failed (")
    assert "HTTP 404" in run.notes
    assert run.notes.endswith(": offset paging from offset 5")


def test_a_partner_that_ignores_offset_fails_cleanly_and_keeps_the_first_page(
    partner: Partner, cpo: PartnerServer
) -> None:
    cpo.link, cpo.ignore_offset = "missing", True
    with pytest.raises(SyncError) as failure:
        _pull(partner)
    assert failure.value.permanent
    run = SyncRun.objects.get()
    assert (run.status, run.pages, run.next_offset) == ("failed", 1, 5)
    assert "repeats the previous page at offset 5: the partner ignores `offset`" in run.error
    assert _stored() == _ids(range(5))
    assert cpo.offsets() == [0, 5]  # no request loop


def test_an_interrupted_full_pull_keeps_its_pages_and_the_next_one_resumes(
    partner: Partner, cpo: PartnerServer
) -> None:
    cpo.objects.append(tariff(12))
    assert _pull(partner).seen == 13
    del cpo.objects[12]  # T12 vanishes: the next complete full pull must mark it removed, and only it
    cpo.answers_left, cpo.queries = 2, []

    with pytest.raises(SyncError) as failure:
        _pull(partner)
    assert not failure.value.permanent
    failed = SyncRun.objects.filter(status="failed").get()
    assert (failed.pages, failed.seen, failed.next_offset) == (2, 10, 10)  # both pages that arrived are stored
    assert "stopped at offset 10: the next full run resumes there" in failed.notes
    assert "offset paging from offset 10" in failed.error  # the Link to page 3 failed, then offset paging did too
    assert _removed() == set()  # an interrupted pull removes nothing

    cpo.answers_left, cpo.queries = None, []
    resumed = _pull(partner)
    assert (resumed.status, resumed.start_offset, resumed.next_offset) == ("succeeded", 9, 12)
    assert cpo.offsets() == [9]  # then Links (the server's page is 5 from offset 9: the rest in one)
    assert (resumed.seen, resumed.unchanged) == (3, 3)
    assert f"resumed run #{failed.pk}, which failed at offset 10: from offset 9" in resumed.notes
    # T00-T08 were listed only by the interrupted run, T09-T11 by the resumed one: only T12 was listed by neither.
    assert (resumed.removed, _removed()) == (1, {"T12"})
    failed.refresh_from_db()
    assert failed.resume_keys is None  # carried over, no longer kept

    assert _pull(partner).start_offset == 0  # after a complete run the next one starts from the beginning


def test_a_resumed_pull_whose_list_moved_starts_again_from_zero(partner: Partner, cpo: PartnerServer) -> None:
    cpo.answers_left = 2
    with pytest.raises(SyncError):
        _pull(partner)
    del cpo.objects[3]  # the list moves: what was at offset 9 is now at 8
    cpo.answers_left, cpo.queries = None, []

    run = _pull(partner)
    assert (run.status, run.start_offset, run.seen) == ("succeeded", 0, 11)
    assert cpo.offsets()[:2] == [9, 0]
    assert "(the list moved, or the partner ignores offset): restarted from offset 0" in run.notes
    assert (run.removed, _removed()) == (1, {"T03"})


def test_an_incremental_pull_does_not_resume(partner: Partner, cpo: PartnerServer) -> None:
    _pull(partner)
    cpo.answers_left = 2
    with pytest.raises(SyncError):
        _pull(partner, full=False)
    cpo.answers_left, cpo.queries = None, []
    assert _pull(partner).start_offset == 0  # the failed run was incremental: nothing to resume
    assert cpo.offsets()[0] == 0


def test_the_command_and_the_admin_say_how_the_run_paged(
    partner: Partner, cpo: PartnerServer, admin_client: Client
) -> None:
    cpo.link = "missing"
    out = StringIO()
    call_command("ocpi_sync", str(partner.pk), "--module", "tariffs", "--full", stdout=out)
    note = "no Link while X-Total-Count is 12: offset paging from offset 5"
    assert out.getvalue().splitlines()[1:] == [f"  {note}"]

    run = SyncRun.objects.get()
    listed = admin_client.get(reverse("admin:roaming_syncrun_changelist"))
    assert note in listed.content.decode()
    detail = admin_client.get(reverse("admin:roaming_syncrun_change", args=[run.pk]))
    assert note in detail.content.decode()


def test_the_command_says_where_a_failed_full_run_stopped(partner: Partner, cpo: PartnerServer) -> None:
    cpo.answers_left = 1
    with pytest.raises(CommandError) as failure:
        call_command("ocpi_sync", str(partner.pk), "--module", "tariffs", "--full", stdout=StringIO())
    assert str(failure.value).endswith("\n  stopped at offset 5: the next full run resumes there")


def test_a_run_of_a_live_process_refuses_a_second_one_and_a_dead_ones_run_is_closed(
    partner: Partner, cpo: PartnerServer
) -> None:
    """Another process is in the middle of a run (it holds the run's lock: a connection of its own on
    PostgreSQL, a thread of the one process on SQLite): a second run is refused and starts no row. Once that
    process dies, the next run closes its row as interrupted."""
    dead = SyncRun.objects.create(partner=partner, module="tariffs", mode=SyncRun.Mode.FULL)
    holding, release = threading.Event(), threading.Event()

    def other_process() -> None:
        with held_while_alive(f"roaming.sync:{partner.pk}:tariffs") as taken:
            assert taken
            holding.set()
            release.wait(30)
        connection.close()  # this thread's own connection, as a process's would go with it

    holder = threading.Thread(target=other_process)
    holder.start()
    assert holding.wait(30)
    try:
        with pytest.raises(SyncError, match="already running") as refused:
            _pull(partner)
    finally:
        release.set()  # the process holding the run dies
        holder.join(30)
    assert refused.value.permanent
    assert list(SyncRun.objects.values_list("pk", "status")) == [(dead.pk, "running")]
    assert cpo.queries == []

    assert _pull(partner).status == "succeeded"
    dead.refresh_from_db()
    assert (dead.status, dead.error.split(":")[0]) == ("failed", "interrupted")
    assert dead.finished_at is not None
    assert _stored() == _ids(range(12))
