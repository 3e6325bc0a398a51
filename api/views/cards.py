"""Your cards and tokens: the RFID cards and the app's own token, with their status; report a card lost (it
is then refused at every charger: the change is pushed to every CPO); order a new card."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api import idempotency
from api.errors import Conflict, ErrorBody, error_body
from api.idempotency import idempotent
from api.schema import errors
from api.views.base import DriverView
from drivers.models import Token
from drivers.services import CardOrderRefused, TokenStateError, card_order, token_report_lost

TAGS = ["Cards"]


class CardOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=Token.Type.choices, help_text="`RFID`: a card; `APP_USER`: this app.")
    contract_id = serializers.CharField(help_text="Your contract id (eMAID), as chargers and invoices show it.")
    visual_number = serializers.CharField(help_text="Printed on the card; empty for the app.")
    status = serializers.ChoiceField(
        choices=Token.Status.choices,
        help_text="`issued`: ordered, on its way (activated when you have it); `active`; `blocked`; `expired`; "
        "`lost`: reported lost, blocked for good.",
    )
    valid = serializers.BooleanField(help_text="Whether chargers accept it now (also false while suspended).")
    issued_at = serializers.DateTimeField(source="created_at")
    expires_at = serializers.DateTimeField(allow_null=True)


_CARD = {
    "id": 7,
    "type": "RFID",
    "contract_id": "NL-EMS-C1A2B3C4D-K",
    "visual_number": "NL-EMS-000123",
    "status": "active",
    "valid": True,
    "issued_at": "2026-03-01T09:00:00Z",
    "expires_at": None,
}
_APP_TOKEN = _CARD | {
    "id": 6,
    "type": "APP_USER",
    "contract_id": "NL-EMS-C9F8E7D6C-2",
    "visual_number": "",
    "issued_at": "2026-02-27T18:30:00Z",
}
_ORDERED = _CARD | {
    "id": 9,
    "contract_id": "NL-EMS-C0A1B2C3D-7",
    "visual_number": "",
    "status": "issued",
    "valid": False,
}


def _conflict(code: str, message: str, description: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorBody, description=description, examples=[OpenApiExample(code, value=error_body(409, code, message))]
    )


class CardsView(DriverView, generics.ListAPIView[Token]):
    serializer_class = CardOut

    def get_queryset(self) -> QuerySet[Token]:
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a driver
            return Token.objects.none()
        return self.driver(self.request).tokens.select_related("driver").order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="cards_list",
        summary="Your cards and tokens",
        description="Newest first, with the app's own token.",
        tags=TAGS,
        responses={200: CardOut(many=True), **errors(401, 403)},
        examples=[
            OpenApiExample(
                "A card and the app",
                value={"count": 2, "next": None, "previous": None, "results": [_CARD, _APP_TOKEN]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(
        operation_id="cards_order",
        summary="Order a new card",
        description="Sent to the address in your profile. It is listed as `issued` at once and works once you "
        "have it and it is activated. One card on its way at a time.",
        tags=TAGS,
        request=None,
        parameters=[idempotency.PARAMETER],
        responses={
            201: CardOut,
            **errors(401, 403),
            409: _conflict(
                "card_already_ordered",
                "A card is already on its way to you.",
                "A card is on its way already (`card_already_ordered`), or your profile has no address "
                "(`address_missing`)",
            ),
            **errors(422),
        },
        examples=[OpenApiExample("Ordered", value=_ORDERED, response_only=True, status_codes=["201"])],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        try:
            card = card_order(driver=self.driver(request))
        except CardOrderRefused as refused:
            raise Conflict(str(refused), code=refused.code) from None
        return Response(CardOut(card).data, status=status.HTTP_201_CREATED)


class CardView(DriverView):
    @extend_schema(
        operation_id="cards_get",
        summary="One of your cards",
        tags=TAGS,
        responses={200: CardOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("A card", value=_CARD, response_only=True)],
    )
    def get(self, request: Request, card_id: int) -> Response:
        card = get_object_or_404(self.driver(request).tokens.select_related("driver"), pk=card_id)
        return Response(CardOut(card).data)


class CardLostView(DriverView):
    @extend_schema(
        operation_id="cards_report_lost",
        summary="Report a card lost or stolen",
        description="The card is blocked for good and every charger's operator is told, so no one can charge "
        "with it. Reporting it again is harmless. Order a new card to replace it.",
        tags=TAGS,
        request=None,
        responses={
            200: CardOut,
            **errors(401, 403, 404),
            409: _conflict(
                "card_state",
                "A expired token cannot become lost.",
                "Not a card (`not_a_card`: the app's token), or its status does not allow it (`card_state`)",
            ),
        },
        examples=[OpenApiExample("Lost", value=_CARD | {"status": "lost", "valid": False}, response_only=True)],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = get_object_or_404(self.driver(request).tokens, pk=card_id)
        if card.type != Token.Type.RFID:
            raise Conflict("Only a card can be reported lost; sign out of the app instead.", code="not_a_card")
        try:
            card = token_report_lost(token=card)
        except TokenStateError as error:
            raise Conflict(str(error), code="card_state") from None
        return Response(CardOut(card).data)
