"""Pull sync from the CPO simulator over HTTP: full, incremental, removal, quirks, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cposim import SimConfig, Simulator
from emsp.celery import app as celery_app
from roaming.models import Connector, Evse, EvseStatusChange, Location, Partner, SyncRun, Tariff
from roaming.ocpi.v2_2_1.types import parse_datetime
from roaming.services.partners import register_with
from roaming.sync import SyncError, sync_partner
from roaming.tasks import SYNC_RETRY_DELAYS, sync_partner_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # Pages of 5 so that every run crosses several pages.
    with Simulator(SimConfig(seed=11, locations=12, country_code="NL", party_id="SIM", page_limit=5)) as simulator:
        yield simulator


@pytest.fixture
def partner(emsp: str, sim: Simulator) -> Partner:
    return register_with(versions_url=sim.versions_url, token_a=sim.token_a)


def _sync(partner: Partner, module: str = "locations", *, full: bool) -> SyncRun:
    return sync_partner(partner=partner, module=module, full=full)


def test_full_sync_mirrors_every_location_evse_connector_and_tariff(partner: Partner, sim: Simulator) -> None:
    run = _sync(partner, full=True)
    assert (run.status, run.mode, run.pages, run.total_expected) == ("succeeded", "full", 3, 12)
    assert (run.seen, run.created, run.updated, run.removed) == (12, 12, 0, 0)
    theirs = [sim.location(i) for i in sim.location_ids()]
    assert set(Location.objects.values_list("ocpi_id", flat=True)) == {loc["id"] for loc in theirs}
    assert Evse.objects.count() == sum(len(loc["evses"]) for loc in theirs)
    assert Connector.objects.count() == sum(len(e["connectors"]) for loc in theirs for e in loc["evses"])
    statuses = {(e.location.ocpi_id, e.uid): e.status for e in Evse.objects.select_related("location")}
    assert statuses == {(loc["id"], e["uid"]): e["status"] for loc in theirs for e in loc["evses"]}

    tariffs = _sync(partner, "tariffs", full=True)
    assert tariffs.status == "succeeded"
    assert set(Tariff.objects.values_list("ocpi_id", flat=True)) == {t["id"] for t in sim.tariffs()}


def test_a_second_full_sync_rewrites_nothing(partner: Partner) -> None:
    _sync(partner, full=True)
    stamps = dict(Location.objects.values_list("pk", "updated_at"))
    run = _sync(partner, full=True)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 12)
    assert dict(Location.objects.values_list("pk", "updated_at")) == stamps


def test_the_first_pull_records_each_evses_first_status_and_a_later_pull_each_change_once(
    partner: Partner, sim: Simulator
) -> None:
    """A first pull inserts EVSEs of new locations without looking (`_insert_evses`): the status history is the
    one the status rule gives a new EVSE, and a later pull finds those rows as any others."""
    _sync(partner, full=True)
    theirs = [sim.location(i) for i in sim.location_ids()]
    history = EvseStatusChange.objects.values_list("evse__location__ocpi_id", "evse__uid", "status", "changed_at")
    assert sorted(history) == sorted(
        (loc["id"], e["uid"], e["status"], parse_datetime(e["last_updated"])) for loc in theirs for e in loc["evses"]
    )
    first_pull = EvseStatusChange.objects.count()
    location_id = sim.location_ids()[3]
    evse = sim.location(location_id)["evses"][0]
    new_status = "OUTOFORDER" if evse["status"] != "OUTOFORDER" else "AVAILABLE"
    sim.set_evse_status(location_id, evse["uid"], new_status, push=False)
    run = _sync(partner, full=True)
    assert (run.created, run.updated) == (0, 1)
    assert EvseStatusChange.objects.count() == first_pull + 1
    assert (
        EvseStatusChange.objects.filter(evse__uid=evse["uid"], evse__location__ocpi_id=location_id)
        .latest("changed_at")
        .status
        == new_status
    )


def test_incremental_sync_fetches_only_changes_and_skips_bumps_without_change(partner: Partner, sim: Simulator) -> None:
    _sync(partner, full=True)
    stamps = dict(Location.objects.values_list("pk", "updated_at"))
    first, second = sim.location_ids()[:2]
    sim.touch_locations([first])  # last_updated bumped, nothing changed
    evse = sim.location(second)["evses"][0]
    new_status = "OUTOFORDER" if evse["status"] != "OUTOFORDER" else "AVAILABLE"
    sim.set_evse_status(second, evse["uid"], new_status, push=False)

    run = _sync(partner, full=False)
    assert (run.mode, run.seen, run.updated, run.unchanged) == ("incremental", 2, 1, 1)
    assert run.date_from is not None
    assert Evse.objects.get(location__ocpi_id=second, uid=evse["uid"]).status == new_status
    touched = Location.objects.get(ocpi_id=first)
    assert touched.updated_at == stamps[touched.pk]  # not rewritten


def test_locations_that_vanish_are_marked_removed_by_the_full_sync(partner: Partner, sim: Simulator) -> None:
    _sync(partner, full=True)
    gone = sim.location_ids()[:2]
    sim.vanish_locations(gone)
    assert _sync(partner, full=False).removed == 0  # an incremental sync cannot see a disappearance
    run = _sync(partner, full=True)
    assert run.removed == 2
    assert set(Location.objects.filter(removed_at__isnull=False).values_list("ocpi_id", flat=True)) == set(gone)
    assert Location.objects.count() == 12  # kept, not deleted


def test_an_invalid_object_is_skipped_and_counted_the_rest_is_kept(partner: Partner, sim: Simulator) -> None:
    sim.put_tariff({"id": "BROKEN", "currency": "EUR", "elements": []}, push=False)  # elements must not be empty
    run = _sync(partner, "tariffs", full=True)
    assert run.status == "succeeded"
    assert run.invalid == 1
    assert Tariff.objects.count() == len(sim.tariffs()) - 1
    assert not Tariff.objects.filter(ocpi_id="BROKEN").exists()


def test_a_sync_broken_by_cpo_errors_fails_whole_pages_and_converges_on_retry(emsp: str) -> None:
    # 40 locations in pages of 5: the run cannot finish on pages fetched before the errors begin.
    with Simulator(SimConfig(seed=12, locations=40, country_code="NL", party_id="BRK", page_limit=5)) as sim:
        partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)

        def break_after_first_page(run: SyncRun) -> None:
            sim.set_chaos(error_share=1.0)

        with pytest.raises(SyncError) as failure:
            sync_partner(partner=partner, module="locations", full=True, progress=break_after_first_page)
        assert not failure.value.permanent
        failed = SyncRun.objects.get()
        assert failed.status == "failed"
        assert 1 <= failed.pages < 8  # pages fetched ahead before the errors began are still written
        assert "500" in failed.error
        assert Location.objects.count() == failed.pages * 5  # whole pages, never part of one

        assert failed.next_offset == failed.pages * 5
        assert "the next full run resumes there" in failed.notes

        sim.set_chaos(error_share=0.0)
        retried = _sync(partner, full=True)
        assert retried.status == "succeeded"
        # It resumes where the failed run stopped, its last object again (unchanged) to check the list is the same.
        assert retried.start_offset == failed.next_offset - 1
        assert (retried.created, retried.unchanged) == (40 - failed.pages * 5, 1)
        assert Location.objects.count() == 40


def test_intermittent_cpo_errors_are_absorbed_by_request_retries(partner: Partner, sim: Simulator) -> None:
    sim.set_chaos(error_share=0.3)
    run = _sync(partner, full=True)
    assert run.status == "succeeded"
    assert Location.objects.count() == 12


@pytest.fixture
def eager_results() -> Iterator[None]:
    """Eager retries call apply() again: let each attempt end as a result rather than an exception."""
    before = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = before


def test_the_celery_task_records_each_attempt_and_retries_transient_failures(
    partner: Partner, sim: Simulator, eager_results: None
) -> None:
    result = sync_partner_task.apply(args=(partner.pk, "locations", True))
    assert result.successful()
    assert SyncRun.objects.get(pk=result.get()).status == "succeeded"

    sim.set_chaos(error_share=1.0)
    # In-process (eager) Celery runs the retries at once instead of after their countdown.
    failed = sync_partner_task.apply(args=(partner.pk, "locations", False))
    assert failed.state == "FAILURE"
    attempts = list(SyncRun.objects.filter(status="failed").order_by("pk").values_list("attempt", flat=True))
    assert attempts == list(range(1, len(SYNC_RETRY_DELAYS) + 2))

    sim.set_chaos(error_share=0.0)
    assert (
        SyncRun.objects.get(pk=sync_partner_task.apply(args=(partner.pk, "locations", False)).get()).status
        == "succeeded"
    )
