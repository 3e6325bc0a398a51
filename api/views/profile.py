"""The driver's profile: name, address, language and currency (what invoices are addressed and written in)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import errors
from api.views.base import DriverView
from drivers.models import Driver
from drivers.services import driver_update


class ProfileOut(serializers.Serializer):
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    street = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166 alpha-2; decides the VAT on your invoices.")
    language = serializers.CharField(help_text="Of the app's texts and your invoices.")
    currency = serializers.CharField()
    standing = serializers.ChoiceField(choices=Driver.Standing.choices)


class ProfileIn(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    street = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
    city = serializers.CharField(max_length=64, required=False, allow_blank=True)
    country = serializers.ChoiceField(choices=sorted(settings.BILLING_VAT_RATES), required=False)
    language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False)


_EXAMPLE = {
    "email": "ann@example.com",
    "first_name": "Ann",
    "last_name": "Smit",
    "street": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
    "language": "nl",
    "currency": "EUR",
    "standing": "good",
}


class ProfileView(DriverView):
    @extend_schema(
        operation_id="profile_get",
        summary="Your profile",
        tags=["Profile"],
        responses={200: ProfileOut, **errors(401, 403)},
        examples=[OpenApiExample("A driver", value=_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(ProfileOut(self.driver(request)).data)

    @extend_schema(
        operation_id="profile_update",
        summary="Change your name, address or language",
        tags=["Profile"],
        request=ProfileIn,
        responses={200: ProfileOut, **errors(400, 401, 403)},
        examples=[OpenApiExample("Moved house", value={"street": "Singel 250", "postal_code": "1016 AB"})],
    )
    def patch(self, request: Request) -> Response:
        given = ProfileIn(data=request.data)
        given.is_valid(raise_exception=True)
        driver = driver_update(driver=self.driver(request), **given.validated_data)
        return Response(ProfileOut(driver).data)
