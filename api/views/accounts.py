"""Accounts: sign up and confirm the email address, sign in (a JWT access token and a refresh token), refresh,
sign out, reset a forgotten password, close the account.

Signing in answers an access token (API_ACCESS_TOKEN_MINUTES) and a refresh token (API_REFRESH_TOKEN_DAYS).
A refresh token works once: refreshing answers a new pair and blacklists the old one, as signing out does.
Nothing here says whether an address has an account (see `drivers.accounts`), and sign-up, sign-in and
password reset are throttled per address (the `signup`, `login` and `password_reset` rates).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from api.errors import Conflict, ErrorBody, Unprocessable, error_body
from api.schema import errors
from api.views.base import DriverView
from billing.collection import account_close
from drivers.accounts import (
    AccountError,
    driver_authenticate,
    driver_sign_up,
    driver_verify_email,
    password_reset_confirm,
    password_reset_request,
    verification_resend,
)

TAGS = ["Account"]


class SignedOut(BaseAuthentication):
    """For the operations of drivers who are not signed in: reads no credentials (a stale access token the app
    still sends must not fail a sign-in), but a refused one is still 401 with `WWW-Authenticate: Bearer`."""

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class SignedOutView(APIView):
    authentication_classes = (SignedOut,)
    permission_classes = (AllowAny,)


def _documented(status_code: int, code: str, message: str, description: str) -> OpenApiResponse:
    """A documented error response with this `code` (for errors more precise than `api.schema.errors`)."""
    return OpenApiResponse(
        ErrorBody,
        description=description,
        examples=[OpenApiExample(code, value=error_body(status_code, code, message))],
    )


class AcceptedOut(serializers.Serializer):
    message = serializers.CharField(help_text="What happens now, in the driver's words.")


# --- sign-up ---------------------------------------------------------------------------------------------


class SignUpIn(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], default="en")
    country = serializers.ChoiceField(
        choices=sorted(settings.BILLING_VAT_RATES), help_text="ISO 3166 alpha-2; decides the VAT on your invoices."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The validators compare the password with the name and address, so they see a user with those.
        candidate = get_user_model()(
            username=attrs["email"], email=attrs["email"], first_name=attrs["first_name"], last_name=attrs["last_name"]
        )
        try:
            validate_password(attrs["password"], candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


_CHECK_EMAIL = "Check your email: we sent a link to confirm your address."


class SignUpView(SignedOutView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "signup"

    @extend_schema(
        operation_id="account_sign_up",
        summary="Sign up",
        description="Opens an account and emails a link to confirm the address; you can sign in once it is "
        "confirmed. The answer is the same when the address has an account already (its owner gets an email "
        "saying so), so it tells no one who our customers are.",
        tags=TAGS,
        auth=[],
        request=SignUpIn,
        responses={202: AcceptedOut, **errors(400, 429)},
        examples=[
            OpenApiExample(
                "Ann signs up",
                value={
                    "email": "ann@example.com",
                    "password": "a long passphrase",
                    "first_name": "Ann",
                    "last_name": "Smit",
                    "language": "nl",
                    "country": "NL",
                },
                request_only=True,
            ),
            OpenApiExample("Accepted", value={"message": _CHECK_EMAIL}, response_only=True, status_codes=["202"]),
        ],
    )
    def post(self, request: Request) -> Response:
        given = SignUpIn(data=request.data)
        given.is_valid(raise_exception=True)
        driver_sign_up(**given.validated_data)
        return Response(AcceptedOut({"message": _CHECK_EMAIL}).data, status=status.HTTP_202_ACCEPTED)


class VerifyEmailIn(serializers.Serializer):
    token = serializers.CharField(help_text="The `token` of the link in the email.")


class VerifyEmailOut(serializers.Serializer):
    email = serializers.EmailField(source="user.email")
    email_verified_at = serializers.DateTimeField()


class VerifyEmailView(SignedOutView):
    @extend_schema(
        operation_id="account_verify_email",
        summary="Confirm your email address",
        description="With the token of the link in the sign-up email. Confirming twice is harmless.",
        tags=TAGS,
        auth=[],
        request=VerifyEmailIn,
        responses={
            200: VerifyEmailOut,
            **errors(400),
            422: _documented(
                422,
                "verification_link_expired",
                "This link has expired; ask the app for a new one.",
                "The link expired (`verification_link_expired`) or is not valid (`verification_link_invalid`)",
            ),
        },
        examples=[
            OpenApiExample("The link's token", value={"token": "eyJ1c2VyIjo0Mn0:1t2x3y:abc"}, request_only=True),
            OpenApiExample(
                "Confirmed",
                value={"email": "ann@example.com", "email_verified_at": "2026-12-02T10:15:00Z"},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        given = VerifyEmailIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            driver = driver_verify_email(token=given.validated_data["token"])
        except AccountError as error:
            raise Unprocessable(str(error), code=error.code) from None
        return Response(VerifyEmailOut(driver).data)


class EmailIn(serializers.Serializer):
    email = serializers.EmailField()


class ResendVerificationView(SignedOutView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "signup"

    @extend_schema(
        operation_id="account_verify_email_resend",
        summary="Send the confirmation link again",
        description="If the address has an account waiting to be confirmed. The answer is the same either way.",
        tags=TAGS,
        auth=[],
        request=EmailIn,
        responses={202: AcceptedOut, **errors(400, 429)},
        examples=[
            OpenApiExample("An address", value={"email": "ann@example.com"}, request_only=True),
            OpenApiExample("Accepted", value={"message": _CHECK_EMAIL}, response_only=True, status_codes=["202"]),
        ],
    )
    def post(self, request: Request) -> Response:
        given = EmailIn(data=request.data)
        given.is_valid(raise_exception=True)
        verification_resend(email=given.validated_data["email"])
        return Response(AcceptedOut({"message": _CHECK_EMAIL}).data, status=status.HTTP_202_ACCEPTED)


# --- signing in and out ----------------------------------------------------------------------------------


class LoginIn(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class TokensOut(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`; short-lived.")
    refresh = serializers.CharField(help_text="For a new pair (`auth_refresh`); works once.")


_TOKENS_EXAMPLE = OpenApiExample(
    "Signed in", value={"access": "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.s1g", "refresh": "eyJ..."}
)


class LoginView(SignedOutView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(
        operation_id="auth_login",
        summary="Sign in",
        tags=TAGS,
        auth=[],
        request=LoginIn,
        responses={
            200: TokensOut,
            **errors(400),
            401: _documented(
                401, "invalid_credentials", "Wrong email address or password.", "Wrong email address or password"
            ),
            403: _documented(
                403,
                "email_not_verified",
                "Please confirm your email address first: we sent you a link.",
                "The address is not confirmed yet (`email_not_verified`) or the account is closed (`account_disabled`)",
            ),
            **errors(429),
        },
        examples=[
            OpenApiExample(
                "Ann", value={"email": "ann@example.com", "password": "a long passphrase"}, request_only=True
            ),
            _TOKENS_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        given = LoginIn(data=request.data)
        given.is_valid(raise_exception=True)
        driver = driver_authenticate(**given.validated_data)
        if driver is None:
            raise exceptions.AuthenticationFailed("Wrong email address or password.", code="invalid_credentials")
        if not driver.user.is_active:
            raise exceptions.PermissionDenied("This account is closed.", code="account_disabled")
        if driver.email_verified_at is None:
            raise exceptions.PermissionDenied(
                "Please confirm your email address first: we sent you a link.", code="email_not_verified"
            )
        refresh = RefreshToken.for_user(driver.user)
        update_last_login(None, driver.user)  # type: ignore[arg-type]
        return Response(TokensOut({"access": str(refresh.access_token), "refresh": str(refresh)}).data)


class RefreshIn(serializers.Serializer):
    refresh = serializers.CharField()


_REFRESH_REFUSED = _documented(
    401,
    "token_not_valid",
    "Token is blacklisted",
    "The refresh token expired, was used already, or the driver signed out (`token_not_valid`)",
)


class RefreshView(SignedOutView):
    @extend_schema(
        operation_id="auth_refresh",
        summary="A new access token",
        description="Answers a new access token and a new refresh token; the refresh token sent is then used up.",
        tags=TAGS,
        auth=[],
        request=RefreshIn,
        responses={200: TokensOut, **errors(400), 401: _REFRESH_REFUSED},
        examples=[OpenApiExample("A refresh token", value={"refresh": "eyJ..."}, request_only=True), _TOKENS_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        given = RefreshIn(data=request.data)
        given.is_valid(raise_exception=True)
        refreshing = TokenRefreshSerializer(data=given.validated_data)
        try:
            refreshing.is_valid(raise_exception=True)
        except TokenError as error:
            raise InvalidToken(error.args[0]) from None
        return Response(TokensOut(refreshing.validated_data).data)


class LogoutView(SignedOutView):
    @extend_schema(
        operation_id="auth_logout",
        summary="Sign out",
        description="Blacklists the refresh token, so it gives no new access token; the access token the app "
        "holds stops working when it expires. The refresh token is the credential here, so this works with an "
        "expired access token too.",
        tags=TAGS,
        auth=[],
        request=RefreshIn,
        responses={204: None, **errors(400), 401: _REFRESH_REFUSED},
        examples=[OpenApiExample("A refresh token", value={"refresh": "eyJ..."}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        given = RefreshIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            RefreshToken(given.validated_data["refresh"]).blacklist()
        except TokenError as error:
            raise InvalidToken(error.args[0]) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- password reset --------------------------------------------------------------------------------------

_RESET_SENT = "If this address has an account, we sent it a link to choose a new password."


class PasswordResetView(SignedOutView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "password_reset"

    @extend_schema(
        operation_id="account_password_reset",
        summary="Forgot your password",
        description="Emails a link to choose a new password, if the address has an account; the answer is the "
        "same either way.",
        tags=TAGS,
        auth=[],
        request=EmailIn,
        responses={202: AcceptedOut, **errors(400, 429)},
        examples=[
            OpenApiExample("An address", value={"email": "ann@example.com"}, request_only=True),
            OpenApiExample("Accepted", value={"message": _RESET_SENT}, response_only=True, status_codes=["202"]),
        ],
    )
    def post(self, request: Request) -> Response:
        given = EmailIn(data=request.data)
        given.is_valid(raise_exception=True)
        password_reset_request(email=given.validated_data["email"])
        return Response(AcceptedOut({"message": _RESET_SENT}).data, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmIn(serializers.Serializer):
    uid = serializers.CharField(help_text="The `uid` of the link in the email.")
    token = serializers.CharField(help_text="The `token` of the link in the email.")
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class PasswordResetConfirmView(SignedOutView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "password_reset"

    @extend_schema(
        operation_id="account_password_reset_confirm",
        summary="Choose a new password",
        description="With the `uid` and `token` of the link in the email. Signs out every app signed in with "
        "the old password.",
        tags=TAGS,
        auth=[],
        request=PasswordResetConfirmIn,
        responses={
            204: None,
            **errors(400),
            422: _documented(
                422,
                "reset_link_invalid",
                "This link is not valid or has expired; ask for a new one.",
                "The link is not valid, was used already, or expired",
            ),
            **errors(429),
        },
        examples=[
            OpenApiExample(
                "A new password",
                value={"uid": "NDI", "token": "cb3x9k-5f0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e", "password": "new passphrase"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        given = PasswordResetConfirmIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            user = password_reset_confirm(**given.validated_data)
        except AccountError as error:
            raise Unprocessable(str(error), code=error.code) from None
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        # Access tokens carry the old password's hash (SIMPLE_JWT CHECK_REVOKE_TOKEN); refresh tokens are ended.
        for outstanding in OutstandingToken.objects.filter(user=user):
            BlacklistedToken.objects.get_or_create(token=outstanding)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- closing the account ---------------------------------------------------------------------------------


class AccountCloseIn(serializers.Serializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class AccountCloseView(DriverView):
    """A POST, not a DELETE of /account: it needs the password in a body, and DELETE bodies are undefined in
    HTTP (proxies and OpenAPI drop them)."""

    @extend_schema(
        operation_id="account_close",
        summary="Close your account",
        description="Removes your name, email address and address, blocks your cards at every charger and "
        "revokes your direct-debit mandate. Invoices, payments and the charging sessions they bill are kept "
        "for as long as tax law requires, with the name and address they were issued to. Possible once every "
        "invoice is paid and your last sessions are invoiced.",
        tags=TAGS,
        request=AccountCloseIn,
        responses={
            204: None,
            **errors(400, 401, 403),
            409: _documented(
                409,
                "balance_open",
                "Your account can be closed once your invoices are paid and your last sessions invoiced.",
                "You owe us, or sessions are still to be invoiced",
            ),
        },
        examples=[OpenApiExample("With the password", value={"password": "a long passphrase"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        given = AccountCloseIn(data=request.data)
        given.is_valid(raise_exception=True)
        driver = self.driver(request)
        if not driver.user.check_password(given.validated_data["password"]):
            raise serializers.ValidationError({"password": ["Wrong password."]})
        try:
            account_close(driver=driver)
        except AccountError as error:
            raise Conflict(str(error), code=error.code) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
