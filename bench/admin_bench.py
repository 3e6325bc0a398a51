"""The back office at scale (issue 17 target): every admin list and the start page answer in under 300 ms with
1,000,000 request-log rows, 100,000 sessions and 100,000 CDRs on PostgreSQL, on a machine whose bare Django view
does about 1,500 req/s (the figures are printed as measured and scaled to such a machine).

The database is filled server-side: a 20,000-location network by COPY (bench/chargers_bench.py, 8 CPOs), then one
row of each table written through the ORM and copied by INSERT ... SELECT over generate_series or over the rows
it belongs to (as bench/invoice_bench.py does): 50,000 drivers with 75,000 tokens and their change log, 100,000
sessions over the last 60 days with their authorizations, a CDR with our price and the driver's charge for every
finished one (1 % disputed), 1,000,000 request-log rows over the last 30 days (2 % failed), hourly sync runs,
commands, EVSE status changes, invoices, payments and mandates. Copying keeps the seed correct when a model gains
a column (the template row has its default).

Then gunicorn (production settings) serves the admin to one client logged in as a superuser, which asks each
registered ModelAdmin's list (the default page, and the page of the first choice of its first filter, as staff
click it) and the start page, `--requests` times each after a warm-up: p50 and p95 per page. The bare Django view
(one UPDATE, 16 connections) runs in the same session, for the scale. A pass in this process counts each page's
SQL queries (N+1 shows up there).

    python -m bench.admin_bench [--requests 15] [--quick]   # alone, on a fresh BENCH_DATABASE_URL
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from .servers import DATABASE_URL, ROOT, free_port, fresh_database, gunicorn

#: The machine the targets are set for: its bare Django view does this many requests a second.
REFERENCE_RPS = 1500
TARGET_MS = 300
PASSWORD = "bench-admin-password"


def _clone(model: Any, template_pk: Any, computed: dict[str, str], source: str, params: dict[str, Any]) -> int:
    """INSERT INTO model's table a copy of the template row for each row of `source` (a FROM item: a
    generate_series named n, or a table aliased s), with `computed` columns given as SQL expressions."""
    from django.db import connection
    from django.db.models import AutoField, BigAutoField

    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoField | BigAutoField)]
    columns = [f.column for f in fields]
    unknown = set(computed) - set(columns)
    assert not unknown, f"{model.__name__} has no columns {unknown}"
    select = ", ".join(computed.get(c, f"t.{q(c)}") for c in columns)
    pk = q(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) SELECT {select} "
            f"FROM {table} t, {source} WHERE t.{pk} = %(template)s",
            {**params, "template": template_pk},
        )
        return int(cursor.rowcount)


def _ids(model: Any, **filters: Any) -> list[int]:
    return list(model.objects.filter(**filters).order_by("pk").values_list("pk", flat=True))


def seed(*, locations: int = 20_000, drivers: int = 50_000, sessions: int = 100_000, log_rows: int = 1_000_000) -> dict:
    """Fill the fresh database; returns what went in."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from billing.models import (
        CdrPrice,
        Dispute,
        Invoice,
        Mandate,
        Payment,
        PlanSubscription,
        RetailPlan,
        SessionCharge,
    )
    from drivers.models import Driver, Token, TokenChange
    from roaming.models import (
        Authorization,
        Cdr,
        ChargingSession,
        Command,
        EvseStatusChange,
        OcpiRequestLog,
        Partner,
        PartnerEndpoint,
        PartnerRole,
        SyncRun,
        TokenPushCursor,
    )

    from .chargers_bench import seed as seed_network

    began = time.monotonic()
    network = seed_network(locations=locations)
    now = datetime.now(UTC).replace(microsecond=0)
    partners = _ids(Partner)
    Partner.objects.update(status=Partner.Status.REGISTERED, version="2.2.1", registered_at=now - timedelta(days=90))
    PartnerRole.objects.bulk_create(
        [
            PartnerRole(partner_id=pk, role="CPO", country_code="NL", party_id=f"P{n}", business_name=f"Bench CPO {n}")
            for n, pk in enumerate(partners)
        ]
    )
    PartnerEndpoint.objects.bulk_create(
        [
            PartnerEndpoint(partner_id=pk, module=module, role=role, url=f"https://cpo{n}.example.com/ocpi/{module}")
            for n, pk in enumerate(partners)
            for module, role in (("locations", "SENDER"), ("sessions", "SENDER"), ("cdrs", "SENDER"),
                                 ("tariffs", "SENDER"), ("tokens", "RECEIVER"), ("commands", "RECEIVER"))
        ]
    )  # fmt: skip
    common = {"partners": partners, "now": now}

    # Users, drivers and their cards: user n, driver n and RFID card n line up (consecutive ids).
    user_model = get_user_model()
    template_user = user_model.objects.create_user("bench-template", "t@example.com", "!", first_name="Driver")
    _clone(
        user_model,
        template_user.pk,
        {"username": "'driver' || n", "email": "'driver' || n || '@example.com'", "last_name": "'No. ' || n",
         "password": "'!'", "date_joined": "%(now)s - n * interval '30 minutes'"},
        "generate_series(1, %(count)s) n",
        {**common, "count": drivers},
    )  # fmt: skip
    users = _ids(user_model, username__startswith="driver")
    template_driver = Driver.objects.create(
        user=template_user, street="Damrak 1", postal_code="1012 LG", city="Amsterdam"
    )
    _clone(
        Driver,
        template_driver.pk,
        {"user_id": "(%(users)s::bigint[])[n]", "created_at": "%(now)s - n * interval '30 minutes'",
         "standing": "CASE WHEN n %% 200 = 0 THEN 'suspended' ELSE 'good' END"},
        "generate_series(1, %(count)s) n",
        {**common, "users": users, "count": drivers},
    )  # fmt: skip
    driver_ids = _ids(Driver, user_id__in=users)
    template_token = Token.objects.create(
        driver=template_driver, uid="TEMPLATE", contract_id="NL-EMS-TEMPLATE", issuer="Bench", last_updated=now,
        status=Token.Status.ACTIVE,
    )  # fmt: skip
    _clone(
        Token,
        template_token.pk,
        {"driver_id": "(%(drivers)s::bigint[])[n]", "uid": "'B' || lpad(n::text, 8, '0')",
         "contract_id": "'NL-EMS-B' || lpad(n::text, 8, '0')", "visual_number": "'NL-EMS-B' || n",
         "status": "CASE WHEN n %% 50 = 0 THEN 'BLOCKED' ELSE 'ACTIVE' END",
         "last_updated": "%(now)s - n * interval '30 minutes'", "created_at": "%(now)s - n * interval '30 minutes'"},
        "generate_series(1, %(count)s) n",
        {**common, "drivers": driver_ids, "count": drivers},
    )  # fmt: skip
    _clone(
        Token,
        template_token.pk,
        {"driver_id": "(%(drivers)s::bigint[])[n * 2]", "uid": "'APP' || lpad(n::text, 8, '0')", "type": "'APP_USER'",
         "contract_id": "'NL-EMS-A' || lpad(n::text, 8, '0')",
         "last_updated": "%(now)s - n * interval '1 hour'", "created_at": "%(now)s - n * interval '1 hour'"},
        "generate_series(1, %(count)s) n",
        {**common, "drivers": driver_ids, "count": drivers // 2},
    )  # fmt: skip
    cards = _ids(Token, uid__startswith="B")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TokenChange._meta.db_table} (token_id, reason, created_at) "
            f"SELECT id, 'issued', created_at FROM {Token._meta.db_table} WHERE id <> %s ORDER BY created_at",
            [template_token.pk],
        )
    last_change = TokenChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # Every CPO has all changes but one, which is 300 changes behind and failing.
    TokenPushCursor.objects.bulk_create(
        [
            TokenPushCursor(
                partner_id=pk, last_change_id=last_change - (300 if n == 3 else 0),
                registered_at=now - timedelta(days=90), failures=4 if n == 3 else 0,
                last_error="PUT tokens: HTTP 503" if n == 3 else "", last_success_at=now - timedelta(minutes=5),
            )
            for n, pk in enumerate(partners)
        ]
    )  # fmt: skip
    plan = RetailPlan.objects.create(name="Bench pay as you go", is_default=True, markup_percent=Decimal("15"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PlanSubscription._meta.db_table} (driver_id, plan_id, valid_from) "
            f"SELECT id, %s, created_at FROM {Driver._meta.db_table} WHERE id <> %s",
            [plan.pk, template_driver.pk],
        )

    # Sessions: newest first, over 60 days; those of the last two hours still charging.
    span = timedelta(days=60) / sessions
    location_count = network["locations"]
    template_session = ChargingSession.objects.create(
        partner_id=partners[0], country_code="NL", party_id="P0", ocpi_id="TEMPLATE", status="COMPLETED",
        start_date_time=now, kwh=Decimal("1"), auth_method="AUTH_REQUEST", ocpi_location_id="1",
        evse_uid="1-0", connector_id="1", currency="EUR", token_uid="B", token_type="RFID", contract_id="X",
        last_updated=now,
    )  # fmt: skip
    where = "1 + (n * 7919) %% %(locations)s"  # a location for session n
    card = "1 + (n * 31) %% %(drivers)s"  # and a card
    start = "%(now)s - (n - 1) * %(span)s"
    _clone(
        ChargingSession,
        template_session.pk,
        {"partner_id": f"(%(partners)s::bigint[])[1 + ({where}) %% 8]", "party_id": f"'P' || ({where}) %% 8",
         "ocpi_id": "'S' || n", "location_id": where, "ocpi_location_id": f"'LOC' || ({where})",
         "evse_uid": f"({where}) || '-0'",
         "status": f"CASE WHEN {start} > %(now)s - interval '2 hours' THEN 'ACTIVE' ELSE 'COMPLETED' END",
         "start_date_time": start,
         "end_date_time": f"CASE WHEN {start} > %(now)s - interval '2 hours' THEN NULL "
                          f"ELSE {start} + (20 + n %% 160) * interval '1 minute' END",
         "last_updated": f"{start} + interval '5 minutes'",
         "kwh": "(3 + n %% 55)::numeric + (n %% 10)::numeric / 10", "total_cost_excl_vat": "(2 + n %% 30)::numeric",
         "token_id": f"(%(cards)s::bigint[])[{card}]", "driver_id": f"(%(driver_ids)s::bigint[])[{card}]",
         "token_uid": f"'B' || lpad(({card})::text, 8, '0')",
         "contract_id": f"'NL-EMS-B' || lpad(({card})::text, 8, '0')",
         "authorization_reference": "'AUTH' || n"},
        "generate_series(1, %(count)s) n",
        {**common, "locations": location_count, "drivers": drivers, "span": span, "cards": cards,
         "driver_ids": driver_ids, "count": sessions},
    )  # fmt: skip
    template_session.delete()

    # Authorizations: one granted per session, and a refusal for every tenth.
    template_auth = Authorization.objects.create(
        partner_id=partners[0], token_id=cards[0], reference="TEMPLATE", allowed="ALLOWED"
    )
    session_table = ChargingSession._meta.db_table
    _clone(
        Authorization,
        template_auth.pk,
        {"partner_id": "s.partner_id", "token_id": "s.token_id", "reference": "s.authorization_reference",
         "location_id": "s.ocpi_location_id", "created_at": "s.start_date_time - interval '10 seconds'"},
        f"{session_table} s",
        {},
    )  # fmt: skip
    _clone(
        Authorization,
        template_auth.pk,
        {"partner_id": "s.partner_id", "token_id": "s.token_id", "reference": "'REFUSED' || s.id",
         "allowed": "CASE WHEN s.id %% 3 = 0 THEN 'BLOCKED' ELSE 'NOT_ALLOWED' END",
         "location_id": "s.ocpi_location_id", "created_at": "s.start_date_time - interval '1 minute'"},
        f"(SELECT * FROM {session_table} WHERE id %% 10 = 0) s",
        {},
    )  # fmt: skip
    template_auth.delete()

    # CDRs: one for every finished session, and unknown cards' CDRs to make 100,000.
    template_cdr = Cdr.objects.create(
        partner_id=partners[0], country_code="NL", party_id="P0", ocpi_id="TEMPLATE", start_date_time=now,
        end_date_time=now, token_uid="B", token_type="RFID", contract_id="X", auth_method="AUTH_REQUEST",
        cdr_location={"id": "LOC1", "name": "Charger", "address": "Laan 1", "city": "Utrecht", "country": "NLD",
                      "evse_uid": "1-0", "connector_id": "1", "connector_power_type": "AC_3_PHASE"},
        currency="EUR", total_cost_excl_vat=Decimal("9"), total_energy=Decimal("20"), total_time=Decimal("1.5"),
        charging_periods=[], raw={}, content_hash="0" * 40, last_updated=now,
    )  # fmt: skip
    _clone(
        Cdr,
        template_cdr.pk,
        {"partner_id": "s.partner_id", "party_id": "s.party_id", "ocpi_id": "'C' || s.ocpi_id",
         "start_date_time": "s.start_date_time", "end_date_time": "s.end_date_time",
         "ocpi_session_id": "s.ocpi_id", "session_id": "s.id", "token_uid": "s.token_uid",
         "contract_id": "s.contract_id",
         "token_id": "s.token_id", "driver_id": "s.driver_id", "authorization_reference": "s.authorization_reference",
         "location_id": "s.location_id", "total_cost_excl_vat": "s.total_cost_excl_vat",
         "total_cost_incl_vat": "s.total_cost_excl_vat * 1.21", "total_energy": "s.kwh",
         "total_time": "extract(epoch from s.end_date_time - s.start_date_time)::numeric / 3600",
         "content_hash": "lpad(s.id::text, 40, '0')",
         "last_updated": "s.end_date_time", "received_at": "s.end_date_time + interval '3 minutes'"},
        f"(SELECT * FROM {session_table} WHERE status = 'COMPLETED') s",
        {},
    )  # fmt: skip
    unknown = sessions - Cdr.objects.exclude(pk=template_cdr.pk).count()
    _clone(
        Cdr,
        template_cdr.pk,
        {"ocpi_id": "'CU' || n", "token_uid": "'UNKNOWN' || n", "unknown_token": "true",
         "start_date_time": "%(now)s - n * interval '1 hour'", "end_date_time": "%(now)s - n * interval '1 hour'",
         "received_at": "%(now)s - n * interval '1 hour'", "content_hash": "lpad(n::text, 40, '1')"},
        "generate_series(1, %(count)s) n",
        {**common, "count": unknown},
    )  # fmt: skip
    template_cdr.delete()
    cdr_table = Cdr._meta.db_table
    with connection.cursor() as cursor:
        # Our price: the CPO's, give or take; every hundredth CDR 2.50 cheaper by our reckoning (disputed).
        cursor.execute(
            f"INSERT INTO {CdrPrice._meta.db_table} (cdr_id, status, currency, total_excl_vat, total_incl_vat, "
            "energy_excl_vat, lines, warnings, priced_at, source, reason, waiting_for, waiting_id, tariff_ocpi_id) "
            "SELECT id, 'PRICED', currency, total_cost_excl_vat - CASE WHEN id %% 100 = 0 THEN 2.5 ELSE 0 END, "
            "total_cost_incl_vat, total_cost_excl_vat, '[]'::jsonb, '[]'::jsonb, received_at, 'cdr', '', '', '', '' "
            f"FROM {cdr_table}",
            {},
        )
    template_charge_cdr = Cdr.objects.filter(driver__isnull=False).order_by("pk").first()
    assert template_charge_cdr is not None
    assert template_charge_cdr.driver_id is not None
    template_charge = SessionCharge.objects.create(
        cdr=template_charge_cdr, driver_id=template_charge_cdr.driver_id, plan=plan, currency="EUR",
        session_start=template_charge_cdr.start_date_time, session_end=template_charge_cdr.end_date_time,
        energy_kwh=template_charge_cdr.total_energy, amount_excl_vat=template_charge_cdr.total_cost_excl_vat * 2,
        vat_rate=Decimal("21"),
    )  # fmt: skip
    _clone(
        SessionCharge,
        template_charge.pk,
        {"cdr_id": "s.id", "driver_id": "s.driver_id", "session_start": "s.start_date_time",
         "session_end": "s.end_date_time", "energy_kwh": "s.total_energy", "charging_hours": "s.total_time",
         "amount_excl_vat": "s.total_cost_excl_vat * 1.15 + 0.35", "created_at": "s.received_at"},
        f"(SELECT * FROM {cdr_table} WHERE driver_id IS NOT NULL AND id <> %(skip)s) s",
        {"skip": template_charge_cdr.pk},
    )  # fmt: skip
    template_dispute = Dispute.objects.create(
        cdr_id=template_charge_cdr.pk, partner_id=partners[0], currency="EUR", amount_at_stake=Decimal("2.5"),
        status=Dispute.Status.RESOLVED, opened_at=now,
    )  # fmt: skip
    _clone(
        Dispute,
        template_dispute.pk,
        {"cdr_id": "s.id", "partner_id": "s.partner_id", "opened_at": "s.received_at",
         "status": "CASE WHEN s.id %% 200 = 0 THEN 'OPEN' ELSE 'CPO_ACCEPTED' END",
         "differences": """'[{"dimension": "total", "cpo": "9", "ours": "6.5", "difference": "2.5"}]'::jsonb"""},
        f"(SELECT * FROM {cdr_table} WHERE id %% 100 = 0) s",
        {},
    )  # fmt: skip
    template_dispute.delete()

    # The request log: 1,000,000 exchanges over 30 days, newest first; 2 % failed in one way or another.
    template_log = OcpiRequestLog.objects.create(direction="in", method="PATCH", url="/", created_at=now)
    modules = ["locations", "locations", "locations", "sessions", "cdrs", "tokens", "commands", "tariffs"]
    _clone(
        OcpiRequestLog,
        template_log.pk,
        {"created_at": "%(now)s - n * %(log_span)s", "partner_id": "(%(partners)s::bigint[])[1 + n %% 8]",
         "direction": "CASE WHEN (n / 8) %% 8 IN (5, 6) THEN 'out' ELSE 'in' END",
         "module": "(%(modules)s::text[])[1 + (n / 8) %% 8]",
         "method": "CASE (n / 8) %% 8 WHEN 0 THEN 'PATCH' WHEN 1 THEN 'PATCH' WHEN 2 THEN 'PUT' WHEN 4 THEN 'POST' "
                   "WHEN 6 THEN 'POST' ELSE 'PUT' END",
         "url": "'/ocpi/2.2.1/' || (%(modules)s::text[])[1 + (n / 8) %% 8] || '/NL/P' || n %% 8 "
                "|| '/LOC' || n %% 20000",
         "http_status": "CASE WHEN n %% 97 = 0 THEN NULL WHEN n %% 61 = 0 THEN 500 ELSE 200 END",
         "ocpi_status": "CASE WHEN n %% 97 = 0 OR n %% 61 = 0 THEN NULL WHEN n %% 113 = 0 THEN 2001 ELSE 1000 END",
         "error": "CASE WHEN n %% 97 = 0 THEN 'ReadTimeout: read timed out' WHEN n %% 61 = 0 THEN 'HTTP 500' "
                  "WHEN n %% 113 = 0 THEN 'Invalid or missing parameters' ELSE '' END",
         "duration_ms": "3 + n %% 40", "request_id": "md5(n::text)", "correlation_id": "md5((n / 3)::text)",
         "request_body": """'{"status": "' || (ARRAY['AVAILABLE','CHARGING','BLOCKED'])[1 + n %% 3] || """
                         """'", "last_updated": "' || """
                         """to_char(%(now)s - n * %(log_span)s, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
                         """|| '"}' || repeat(' ', n %% 300)""",
         "response_body": """'{"status_code": 1000, "status_message": "Success", "timestamp": "' || """
                          """to_char(%(now)s - n * %(log_span)s, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}'"""},
        "generate_series(1, %(count)s) n",
        {**common, "log_span": timedelta(days=30) / log_rows, "modules": modules, "count": log_rows},
    )  # fmt: skip
    template_log.delete()

    # Sync runs: each module of each CPO every hour for 30 days; 2 % failed.
    template_run = SyncRun.objects.create(partner_id=partners[0], module="locations", mode="incremental")
    _clone(
        SyncRun,
        template_run.pk,
        {"partner_id": "(%(partners)s::bigint[])[1 + n %% 8]",
         "module": "(ARRAY['locations','tariffs','sessions','cdrs'])[1 + (n / 8) %% 4]",
         "status": "CASE WHEN n %% 50 = 7 THEN 'failed' ELSE 'succeeded' END",
         "error": "CASE WHEN n %% 50 = 7 THEN 'GET page 3: ReadTimeout' ELSE '' END",
         "started_at": "%(now)s - (n / 32) * interval '1 hour'",
         "finished_at": "%(now)s - (n / 32) * interval '1 hour' + interval '4 seconds'",
         "pages": "1 + n %% 3", "seen": "n %% 400", "updated": "n %% 20", "unchanged": "n %% 380"},
        "generate_series(1, %(count)s) n",
        {**common, "count": 8 * 4 * 24 * 30},
    )  # fmt: skip
    template_run.delete()

    # Commands from the app and from staff: 20,000 over 30 days, 3 % timed out.
    template_command = Command.objects.create(partner_id=partners[0], type="START_SESSION", token_id=cards[0])
    _clone(
        Command,
        template_command.pk,
        {"partner_id": "(%(partners)s::bigint[])[1 + n %% 8]", "reference": "md5('cmd' || n)::uuid",
         "type": "CASE WHEN n %% 2 = 0 THEN 'START_SESSION' ELSE 'STOP_SESSION' END",
         "token_id": "(%(cards)s::bigint[])[1 + n %% 1000]", "state": "'DONE'", "response": "'ACCEPTED'",
         "result": "CASE WHEN n %% 33 = 0 THEN 'TIMEOUT' ELSE 'ACCEPTED' END",
         "result_local": "n %% 33 = 0", "location_id": "'LOC' || n %% 20000",
         "created_at": "%(now)s - n * interval '2 minutes'", "updated_at": "%(now)s - n * interval '2 minutes'",
         "deadline": "%(now)s - n * interval '2 minutes' + interval '1 minute'",
         "responded_at": "%(now)s - n * interval '2 minutes'", "result_at": "%(now)s - n * interval '2 minutes'"},
        "generate_series(1, %(count)s) n",
        {**common, "cards": cards, "count": 20_000},
    )  # fmt: skip
    template_command.delete()

    # EVSE status history: 300,000 changes over 30 days.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EvseStatusChange._meta.db_table} (evse_id, status, changed_at) "
            "SELECT 1 + (n::bigint * 7919) %% %(evses)s, (ARRAY['AVAILABLE','CHARGING','OUTOFORDER'])[1 + n %% 3], "
            "%(now)s - n * interval '8 seconds' FROM generate_series(1, 300000) n",
            {"evses": network["evses"], "now": now},
        )

    # Invoices of last month (one per driver), half paid by direct debit; mandates for a fifth of the drivers.
    month = (now.replace(day=1) - timedelta(days=1)).replace(day=1).date()
    template_invoice = Invoice.objects.create(
        number="TEMPLATE", driver=template_driver, period=month, issued_at=now, issue_date=now.date(),
        due_date=now.date() + timedelta(days=14), currency="EUR", customer_name="Driver",
        total_excl_vat=Decimal("41.32"), total_vat=Decimal("8.68"), total_incl_vat=Decimal("50.00"),
    )  # fmt: skip
    _clone(
        Invoice,
        template_invoice.pk,
        {"number": "'INV-2026-' || lpad(n::text, 6, '0')", "driver_id": "(%(drivers)s::bigint[])[n]",
         "customer_name": "'Driver No. ' || n", "status": "CASE WHEN n %% 2 = 0 THEN 'PAID' ELSE 'OPEN' END",
         "issued_at": "%(now)s - n * interval '1 second'",
         "paid_amount": "CASE WHEN n %% 2 = 0 THEN 50 ELSE 0 END"},
        "generate_series(1, %(count)s) n",
        {"drivers": driver_ids, "count": drivers, "now": now},
    )  # fmt: skip
    template_invoice.delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Mandate._meta.db_table} (driver_id, reference, debtor_name, iban, bic, signed_on, status, "
            "created_at) SELECT id, 'MANDATE-' || id, 'Driver ' || id, 'NL91ABNA0417164300', '', %(today)s, 'ACTIVE', "
            f"%(now)s FROM {Driver._meta.db_table} WHERE id %% 5 = 0",
            {"today": now.date(), "now": now},
        )
        cursor.execute(
            f"INSERT INTO {Payment._meta.db_table} (invoice_id, amount, currency, method, received_on, reference, "
            "status, return_reason, created_at) SELECT id, 50, 'EUR', 'BANK_TRANSFER', %(today)s, 'BANK-' || id, "
            f"'RECEIVED', '', %(now)s FROM {Invoice._meta.db_table} WHERE status = 'PAID'",
            {"today": now.date(), "now": now},
        )
    Token.objects.filter(pk=template_token.pk).delete()
    Driver.objects.filter(pk=template_driver.pk).delete()
    user_model.objects.filter(pk=template_user.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    return {
        "seconds": round(time.monotonic() - began, 1),
        "locations": network["locations"],
        "evses": network["evses"],
        "drivers": Driver.objects.count(),
        "tokens": Token.objects.count(),
        "sessions": ChargingSession.objects.count(),
        "cdrs": Cdr.objects.count(),
        "request_log": OcpiRequestLog.objects.count(),
        "authorizations": Authorization.objects.count(),
        "commands": Command.objects.count(),
        "sync_runs": SyncRun.objects.count(),
    }


class AdminClient:
    """One browser: a keep-alive connection to gunicorn with the superuser's session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: str = "") -> tuple[int, dict[str, str], bytes]:
        headers = {"Host": f"127.0.0.1:{self.port}", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed the keep-alive connection
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
        content = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def login(self, username: str, password: str) -> None:
        status, _, page = self.request("GET", "/admin/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert status == 200, f"login page: HTTP {status}"
        assert token, "no CSRF token on the login page"
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1).decode(),
                "next": "/admin/"}  # fmt: skip
        status, _, _ = self.request("POST", "/admin/login/?next=/admin/", urlencode(form))
        assert status == 302, f"login failed: HTTP {status}"
        assert "sessionid" in self.cookies, "login set no session cookie"

    def get(self, path: str) -> tuple[int, bytes, float]:
        began = time.perf_counter()
        status, _, content = self.request("GET", path)
        return status, content, (time.perf_counter() - began) * 1000


def first_filter_link(page: bytes) -> str:
    """The first choice of the list's first filter, as staff would click it ("" when it has no filters)."""
    start = page.find(b'id="changelist-filter"')
    if start < 0:
        return ""
    for match in re.finditer(rb'href="(\?[^"]*)"', page[start:]):
        link = html.unescape(match.group(1).decode())
        if link not in ("?", "?_facets=True") and "_facets" not in link:
            return link
    return ""


def pages() -> list[tuple[str, str]]:
    """(name, URL) of the start page and every registered ModelAdmin's list."""
    from django.contrib import admin
    from django.urls import reverse

    out = [("start page", "/admin/")]
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        opts = model._meta
        out.append((opts.label, reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
    return out


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def time_pages(*, port: int, requests: int, username: str) -> list[dict[str, Any]]:
    client = AdminClient(port)
    client.login(username, PASSWORD)
    results = []
    for name, url in pages():
        status, page, _ = client.get(url)
        if status != 200:
            results.append({"page": name, "url": url, "error": f"HTTP {status}"})
            continue
        link = first_filter_link(page)
        row: dict[str, Any] = {"page": name, "url": url, "count": _shown_count(page)}
        for key, path in (("default", url), ("filtered", url + link if link else "")):
            if not path:
                continue
            client.get(path)  # warm-up (and the filtered page's own caches)
            times, statuses = [], set()
            for _ in range(requests):
                status, _, ms = client.get(path)
                statuses.add(status)
                times.append(ms)
            row[key] = _stats(times) | {"statuses": sorted(statuses)}
            if key == "filtered":
                row["filter"] = link
        results.append(row)
        print(_line(row), flush=True)
    return results


def _shown_count(page: bytes) -> str:
    """The count the list shows under its rows (the paginator's line)."""
    match = re.search(rb'<p class="paginator">(.*?)</p>', page, re.S)
    if not match:
        return ""
    text = re.sub(rb"<[^>]+>", b" ", match.group(1)).decode()
    words = " ".join(text.split())
    found = re.search(r"((?:about |more than )?[\d,]+) [^\d]*$", words)
    return found.group(1) if found else words[-40:]


def count_queries() -> dict[str, dict[str, Any]]:
    """SQL queries per page (default and filtered) and the slowest of them, in this process through Django's
    test client (after one request to warm up): an N+1 shows as a count that grows with the page."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")  # an allowed host of the bench settings
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    out: dict[str, dict[str, Any]] = {}
    for name, url in pages():
        response = client.get(url)
        link = first_filter_link(response.content) if response.status_code == 200 else ""
        counts: dict[str, Any] = {}
        slowest: list[tuple[float, str]] = []
        for key, path in (("default", url), ("filtered", url + link if link else "")):
            if not path:
                continue
            client.get(path)
            with CaptureQueriesContext(connection) as captured:
                client.get(path)
            counts[key] = len(captured.captured_queries)
            slowest += [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
        if slowest:
            ms, sql = max(slowest)
            counts["slowest_ms"], counts["slowest_sql"] = round(ms, 1), " ".join(sql.split())[:300]
        out[name] = counts
    return out


def _line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"  {row['page']:<40} {row['error']}"
    default, filtered = row["default"], row.get("filtered")
    text = f"  {row['page']:<40} p50 {default['p50_ms']:7.1f} ms  p95 {default['p95_ms']:7.1f} ms  ({row['count']})"
    if filtered:
        text += f"   {row['filter'][:40]:<40} p50 {filtered['p50_ms']:7.1f} ms  p95 {filtered['p95_ms']:7.1f} ms"
    return text


def baseline(seconds: float) -> dict[str, Any]:
    """This machine's bare-view throughput (gunicorn 4x1, 16 connections), as `python -m bench` measures it."""
    from .invoice_bench import _baseline

    return _baseline(seconds)


def bench_admin(*, requests: int = 15, seconds: float = 10.0, quick: bool = False) -> dict[str, Any]:
    """Seed the fresh database (the caller made it), measure the baseline and every admin page."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    seeded = seed(locations=2_000, drivers=5_000, sessions=10_000, log_rows=100_000) if quick else seed()
    get_user_model().objects.create_superuser("bench-admin", "admin@example.com", PASSWORD)
    queries = count_queries()
    connection.close()
    print(f"  seeded in {seeded['seconds']} s: {seeded}", flush=True)
    # The bare view before and after the pages: this machine's speed moves (other work on its two cores), and the
    # scale is the mean of the two.
    print(f"baseline: bare Django view, one UPDATE, 16 connections, {seconds:.0f} s ...", flush=True)
    before = baseline(seconds)
    print(f"  {before['rps']} req/s, p99 {before['p99_ms']} ms", flush=True)
    port = free_port()
    print(f"admin pages: one client, {requests} requests each after a warm-up, gunicorn 4x1 ...", flush=True)
    with gunicorn(port=port, workers=4, threads=1):
        rows = time_pages(port=port, requests=requests, username="bench-admin")
    print(f"baseline again: {seconds:.0f} s ...", flush=True)
    after = baseline(seconds)
    print(f"  {after['rps']} req/s, p99 {after['p99_ms']} ms", flush=True)
    for row in rows:
        row["queries"] = queries.get(row["page"], {})
    base = {"rps": round((before["rps"] + after["rps"]) / 2), "before": before, "after": after}
    return {"seeded": seeded, "baseline": base, "pages": rows, "requests": requests}


def scaled(ms: float, base_rps: float) -> float:
    """A time measured here, on a machine whose bare view does REFERENCE_RPS."""
    return ms * base_rps / REFERENCE_RPS


def print_table(result: dict[str, Any]) -> None:
    base = result["baseline"]["rps"]
    before, after = result["baseline"]["before"]["rps"], result["baseline"]["after"]["rps"]
    print(
        f"\nbare Django view in the same run: {before} req/s before the pages, {after} after, {base} on average; "
        f"times scaled to a {REFERENCE_RPS:,} req/s machine (x {base / REFERENCE_RPS:.2f}); "
        f"target p95 < {TARGET_MS} ms scaled\n"
    )
    print("| page | count shown | queries | slowest query | default p50 / p95 | scaled p95 "
          "| filtered (first filter's first choice) | filtered p50 / p95 | scaled p95 | |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for row in result["pages"]:
        if "error" in row:
            print(f"| {row['page']} | | | | {row['error']} | | | | | **error** |")
            continue
        d, f = row["default"], row.get("filtered")
        q = row.get("queries", {})
        worst_here = max(d["p95_ms"], f["p95_ms"] if f else 0.0)
        worst = max(worst, scaled(worst_here, base))
        met = "met" if scaled(worst_here, base) < TARGET_MS else "**not met**"
        queries = f"{q.get('default', '-')} / {q.get('filtered', '-')}"
        slowest = f"{q['slowest_ms']} ms" if "slowest_ms" in q else "-"
        filtered = (
            (f"`{row['filter'][:60]}`", f"{f['p50_ms']} / {f['p95_ms']} ms", f"{scaled(f['p95_ms'], base):.0f} ms")
            if f
            else ("-", "-", "-")
        )
        print(f"| {row['page']} | {row['count']} | {queries} | {slowest} | {d['p50_ms']} / {d['p95_ms']} ms | "
              f"{scaled(d['p95_ms'], base):.0f} ms | {' | '.join(filtered)} | {met} |")  # fmt: skip
    print(f"\nslowest page, scaled p95: {worst:.0f} ms ({'met' if worst < TARGET_MS else 'NOT MET'})")


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The README table's rows of this benchmark (`python -m bench`)."""
    base = result["baseline"]["rps"]
    measured = [r for r in result["pages"] if "error" not in r]
    p95s = [(max(r["default"]["p95_ms"], r.get("filtered", {}).get("p95_ms", 0.0)), r["page"]) for r in measured]
    worst, page = max(p95s)
    start = next(r for r in measured if r["page"] == "start page")
    errors = len(result["pages"]) - len(measured)
    s = result["seeded"]
    start_p95 = start["default"]["p95_ms"]

    def mark(ms: float) -> str:
        return ("met" if ms < TARGET_MS else "**not met**") + (
            f" ({'met' if scaled(ms, base) < TARGET_MS else 'not met'} scaled)" if ms >= TARGET_MS else ""
        )

    return [
        (
            f"admin: {len(measured)} pages (start page + every list, default and filtered), {s['request_log']:,} "
            f"log rows / {s['sessions']:,} sessions / {s['cdrs']:,} CDRs, one client, slowest p95",
            f"{worst} ms ({page}); {scaled(worst, base):.0f} ms scaled" + (f"; {errors} errors" if errors else ""),
            "< 300 ms",
            mark(worst) if not errors else "**not met**",
        ),
        (
            "admin start page p95",
            f"{start_p95} ms; {scaled(start_p95, base):.0f} ms scaled",
            "< 300 ms",
            mark(start_p95),
        ),
        (f"bare Django view in the same run (scale x {base / REFERENCE_RPS:.2f})", f"{base} req/s", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.admin_bench")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the baseline load run")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data")
    args = parser.parse_args()
    os.environ.update({"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL})
    sys.path.insert(0, str(ROOT))
    print(f"fresh database {DATABASE_URL} ...", flush=True)
    fresh_database()
    import django

    django.setup()
    print("seeding: 1,000,000 request-log rows, 100,000 sessions and CDRs, 50,000 drivers ...", flush=True)
    result = bench_admin(requests=args.requests, seconds=args.seconds, quick=args.quick)
    print_table(result)
    print("\nfor the README:\n\n| benchmark | result | target | |\n|---|---|---|---|")
    for row in table_rows(result):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
