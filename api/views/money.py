"""The money part of the profile: the plans a driver can choose and the one they are on, the SEPA mandate their
invoices are collected by, and their balance. Amounts are decimal strings in the currency given beside them;
plan terms are excl. VAT (the VAT of the driver's country is added per invoice)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict, ErrorBody
from api.schema import errors
from api.views.base import DriverView
from api.views.prices import MAX_ID
from billing.charges import PlanError, plan_in_force, plan_subscribe
from billing.collection import MandateError, billing_today, mandate_create, mandate_revoke
from billing.models import Mandate, PlanSubscription, RetailPlan
from billing.selectors import Balance, driver_balance, mandate_active, plan_spell_in_force, plans_offered


def _money(help_text: str = "", **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=4, help_text=help_text, **kwargs)


def _cents(help_text: str = "", **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, help_text=help_text, **kwargs)


# --- plans -----------------------------------------------------------------------------------------------


class PriceRuleOut(serializers.Serializer):
    operator = serializers.CharField(
        source="partner.name", allow_null=True, default=None, help_text="Only at this operator's chargers."
    )
    country = serializers.CharField(help_text="Only in this country (ISO 3166 alpha-3); empty: anywhere.")
    power_class = serializers.CharField(help_text="AC, DC (up to 150 kW) or HPC; empty: any.")
    price_per_kwh = _money()
    price_per_hour = _money(help_text="Per hour of charging.")


class PlanOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    basis = serializers.ChoiceField(
        choices=RetailPlan.Basis.choices,
        help_text="`cost_plus`: the operator's price plus the markups; `own_prices`: the price rules below "
        "(a session no rule matches is priced as cost plus).",
    )
    monthly_fee = _money(help_text="Per month, prorated by the days on the plan.")
    session_fee = _money(help_text="Per session.")
    markup_percent = serializers.DecimalField(max_digits=7, decimal_places=4, help_text="On the operator's price.")
    markup_per_kwh = _money()
    idle_fee_per_minute = _money(help_text="Per minute parked (not charging) beyond the grace minutes.")
    idle_grace_minutes = serializers.IntegerField()
    price_rules = PriceRuleOut(many=True)
    is_default = serializers.BooleanField(help_text="The plan of drivers who never chose one.")


_PLAN = {
    "id": 2,
    "name": "Plus",
    "currency": "EUR",
    "basis": "own_prices",
    "monthly_fee": "4.9500",
    "session_fee": "0.0000",
    "markup_percent": "10.0000",
    "markup_per_kwh": "0.0000",
    "idle_fee_per_minute": "0.1000",
    "idle_grace_minutes": 30,
    "price_rules": [
        {"operator": None, "country": "", "power_class": "AC", "price_per_kwh": "0.3900", "price_per_hour": "0.0000"},
        {"operator": None, "country": "", "power_class": "DC", "price_per_kwh": "0.4900", "price_per_hour": "0.0000"},
    ],
    "is_default": False,
}


class PlanListView(DriverView, generics.ListAPIView):
    serializer_class = PlanOut

    def get_queryset(self) -> QuerySet[RetailPlan]:
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a driver
            return RetailPlan.objects.none()
        return plans_offered(currency=self.driver(self.request).currency)

    @extend_schema(
        operation_id="plans_list",
        summary="The plans you can choose",
        description="Available plans in your currency, cheapest monthly fee first. Amounts excl. VAT.",
        tags=["Money"],
        responses={200: PlanOut(many=True), **errors(401, 403, 404)},
        examples=[OpenApiExample("A plan", value=_PLAN, response_only=True)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class MyPlanOut(serializers.Serializer):
    plan = PlanOut(allow_null=True, help_text="Null: you have no plan and there is no default plan.")
    since = serializers.DateTimeField(allow_null=True, help_text="When you chose it; null: the default plan.")
    chosen = serializers.BooleanField(help_text="False: you never chose a plan and the default plan applies.")


class PlanChangeIn(serializers.Serializer):
    plan = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The id of one of the plans you can choose (`plans_list`)."
    )

    def validate_plan(self, value: int) -> RetailPlan:
        plan = plans_offered(currency=self.context["driver"].currency).filter(pk=value).first()
        if plan is None:
            raise ValidationError("This is not a plan you can choose.", code="not_offered")
        return plan


def _my_plan(spell: PlanSubscription | None, default: RetailPlan | None) -> dict[str, Any]:
    if spell is not None:
        return {"plan": spell.plan, "since": spell.valid_from, "chosen": True}
    return {"plan": default, "since": None, "chosen": False}


class MyPlanView(DriverView):
    @extend_schema(
        operation_id="my_plan_get",
        summary="Your plan",
        description="The plan your sessions starting now are charged under.",
        tags=["Money"],
        responses={200: MyPlanOut, **errors(401, 403)},
        examples=[
            OpenApiExample(
                "On Plus", value={"plan": _PLAN, "since": "2026-11-03T09:12:00Z", "chosen": True}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        driver = self.driver(request)
        spell = plan_spell_in_force(driver=driver)
        default = None if spell else plan_in_force(driver=driver)
        return Response(MyPlanOut(_my_plan(spell, default)).data)

    @extend_schema(
        operation_id="my_plan_change",
        summary="Switch plan",
        description="From now on: sessions that started before keep the plan they started under. Choosing the "
        "plan you are on changes nothing.",
        tags=["Money"],
        request=PlanChangeIn,
        responses={200: MyPlanOut, **errors(400, 401, 403, 409)},
        examples=[
            OpenApiExample("Switch to Plus", value={"plan": 2}, request_only=True),
            OpenApiExample(
                "On Plus from now",
                value={"plan": _PLAN, "since": "2026-12-02T10:15:00Z", "chosen": True},
                response_only=True,
            ),
        ],
    )
    def put(self, request: Request) -> Response:
        driver = self.driver(request)
        given = PlanChangeIn(data=request.data, context={"driver": driver})
        given.is_valid(raise_exception=True)
        try:
            spell = plan_subscribe(
                driver=driver,
                plan=given.validated_data["plan"],
                # In whole seconds, as sessions (OCPI times) and prices (`price_estimate`) count time: a price
                # asked for right after the switch is then under the new plan.
                at=timezone.now().replace(microsecond=0),
                by=request.user,  # type: ignore[arg-type]
            )
        except PlanError as exc:  # a change staff scheduled for later is pending
            raise Conflict(
                "A change of your plan is already scheduled; please contact us to change it.",
                code="plan_change_pending",
            ) from exc
        return Response(MyPlanOut(_my_plan(spell, None)).data)


# --- the SEPA mandate ------------------------------------------------------------------------------------


def masked_iban(iban: str) -> str:
    """Country, check digits and the last four: enough for the driver to recognise the account."""
    return f"{iban[:4]} **** {iban[-4:]}" if len(iban) > 8 else "****"


class MandateOut(serializers.Serializer):
    reference = serializers.CharField(help_text="The mandate reference, on your bank statements.")
    debtor_name = serializers.CharField(help_text="The account holder.")
    iban = serializers.SerializerMethodField(help_text="Masked: country, check digits and the last four.")
    bic = serializers.CharField()
    signed_on = serializers.DateField()
    status = serializers.ChoiceField(choices=Mandate.Status.choices)
    creditor_name = serializers.SerializerMethodField()
    creditor_id = serializers.SerializerMethodField(help_text="Our SEPA creditor identifier.")

    def get_iban(self, mandate: Mandate) -> str:
        return masked_iban(mandate.iban)

    def get_creditor_name(self, mandate: Mandate) -> str:
        return str(settings.BILLING_COMPANY["name"])

    def get_creditor_id(self, mandate: Mandate) -> str:
        return str(settings.BILLING_COMPANY["creditor_id"])


class MandateIn(serializers.Serializer):
    iban = serializers.CharField(max_length=42, help_text="Spaces allowed, e.g. `NL91 ABNA 0417 1643 00`.")
    bic = serializers.CharField(
        max_length=16, required=False, default="", allow_blank=True, help_text="Optional where the IBAN tells it."
    )
    debtor_name = serializers.CharField(
        max_length=70, required=False, help_text="The account holder; default: your name."
    )


_MANDATE = {
    "reference": "EMSP-42-3F9A0C1B22D4",
    "debtor_name": "Ann Smit",
    "iban": "NL91 **** 4300",
    "bic": "ABNANL2A",
    "signed_on": "2026-11-03",
    "status": "ACTIVE",
    "creditor_name": "Example EMSP B.V.",
    "creditor_id": "NL97ZZZ123456780000",
}


class MandateView(DriverView):
    """The driver's one active mandate: GET it, POST a new one (replaces the old), DELETE it (revoke)."""

    def _active(self, request: Request) -> Mandate:
        mandate = mandate_active(driver=self.driver(request))
        if mandate is None:
            raise NotFound("You have no active direct-debit mandate.", code="no_mandate")
        return mandate

    @extend_schema(
        operation_id="mandate_get",
        summary="Your direct-debit mandate",
        tags=["Money"],
        responses={200: MandateOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("Active", value=_MANDATE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(MandateOut(self._active(request)).data)

    @extend_schema(
        operation_id="mandate_create",
        summary="Sign a direct-debit mandate",
        description="Authorises us to collect your invoices from this account (SEPA Core), signed today. It "
        "replaces the mandate you had. The IBAN is checked (country, length, check digits); a wrong one is a "
        "field error on `iban`.",
        tags=["Money"],
        request=MandateIn,
        responses={
            201: MandateOut,
            **errors(401, 403),
            400: OpenApiResponse(
                ErrorBody,
                description="Invalid input (e.g. the IBAN's check digits are wrong)",
                examples=[
                    OpenApiExample(
                        "A mistyped IBAN",
                        value={
                            "error": {
                                "type": "validation_error",
                                "code": "invalid",
                                "message": "Please check the highlighted fields.",
                                "fields": {"iban": ["'NL91ABNA0417164301' is not a valid IBAN (Invalid checksum)"]},
                            }
                        },
                    )
                ],
            ),
        },
        examples=[
            OpenApiExample(
                "Sign", value={"iban": "NL91 ABNA 0417 1643 00", "debtor_name": "Ann Smit"}, request_only=True
            ),
            OpenApiExample("Signed", value=_MANDATE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        driver = self.driver(request)
        given = MandateIn(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            mandate = mandate_create(
                driver=driver,
                iban=data["iban"],
                bic=data["bic"],
                debtor_name=data.get("debtor_name") or str(driver),
                signed_on=billing_today(),
            )
        except MandateError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return Response(MandateOut(mandate).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="mandate_revoke",
        summary="Revoke your direct-debit mandate",
        description="No further collections from the account; pay open invoices by bank transfer.",
        tags=["Money"],
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: Request) -> Response:
        mandate_revoke(mandate=self._active(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the balance -----------------------------------------------------------------------------------------


class InvoiceFiguresOut(serializers.Serializer):
    count = serializers.IntegerField()
    amount = _cents(help_text="Still to pay on them, incl. VAT.")


class BalanceOut(serializers.Serializer):
    currency = serializers.CharField()
    outstanding = _cents(help_text="Issued invoices and credit notes minus payments, incl. VAT.")
    uninvoiced = _cents(help_text="Sessions priced but not invoiced yet, incl. VAT.")
    total = _cents(help_text="Outstanding plus uninvoiced: what your credit limit is checked against.")
    credit_limit = _cents(allow_null=True, help_text="Null: no limit.")
    credit_available = _cents(allow_null=True, help_text="Credit limit minus total (not below 0); null: no limit.")
    open_invoices = InvoiceFiguresOut(help_text="Invoices not fully paid.")
    overdue_invoices = InvoiceFiguresOut(help_text="Of those, the ones past their due date.")


def _balance(balance: Balance) -> dict[str, Any]:
    return {
        "currency": balance.currency,
        "outstanding": balance.outstanding,
        "uninvoiced": balance.uninvoiced,
        "total": balance.total,
        "credit_limit": balance.credit_limit,
        "credit_available": balance.credit_available,
        "open_invoices": {"count": balance.open_invoices, "amount": balance.open_amount},
        "overdue_invoices": {"count": balance.overdue_invoices, "amount": balance.overdue_amount},
    }


class BalanceView(DriverView):
    @extend_schema(
        operation_id="balance_get",
        summary="Your balance",
        tags=["Money"],
        responses={200: BalanceOut, **errors(401, 403)},
        examples=[
            OpenApiExample(
                "One open invoice, a session since",
                value={
                    "currency": "EUR",
                    "outstanding": "36.30",
                    "uninvoiced": "12.89",
                    "total": "49.19",
                    "credit_limit": "250.00",
                    "credit_available": "200.81",
                    "open_invoices": {"count": 1, "amount": "36.30"},
                    "overdue_invoices": {"count": 0, "amount": "0.00"},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(BalanceOut(_balance(driver_balance(driver=self.driver(request)))).data)
