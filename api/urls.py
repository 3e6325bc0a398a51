"""The driver API, /api/v1/: one route per resource, grouped as the views are (api/views/<subject>.py).
A new endpoint goes in the module of its subject and gets one line here."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api.views import accounts, cards, chargers, charging, history, money, prices, profile


class IdConverter:
    """Our ids in paths: digits that fit a bigint. A longer number matches no route (404) rather than reaching
    the database, which cannot compare it (SQLite raises OverflowError)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("me", profile.ProfileView.as_view(), name="api-profile"),
    path("account/close", accounts.AccountCloseView.as_view(), name="api-account-close"),
    path("account/sign-up", accounts.SignUpView.as_view(), name="api-sign-up"),
    path("account/verify-email", accounts.VerifyEmailView.as_view(), name="api-verify-email"),
    path("account/verify-email/resend", accounts.ResendVerificationView.as_view(), name="api-verify-email-resend"),
    path("account/password-reset", accounts.PasswordResetView.as_view(), name="api-password-reset"),
    path(
        "account/password-reset/confirm",
        accounts.PasswordResetConfirmView.as_view(),
        name="api-password-reset-confirm",
    ),
    path("auth/login", accounts.LoginView.as_view(), name="api-login"),
    path("auth/refresh", accounts.RefreshView.as_view(), name="api-refresh"),
    path("auth/logout", accounts.LogoutView.as_view(), name="api-logout"),
    path("cards", cards.CardsView.as_view(), name="api-cards"),
    path("cards/<id:card_id>", cards.CardView.as_view(), name="api-card"),
    path("cards/<id:card_id>/lost", cards.CardLostView.as_view(), name="api-card-lost"),
    path("plans", money.PlanListView.as_view(), name="api-plans"),
    path("me/plan", money.MyPlanView.as_view(), name="api-my-plan"),
    path("me/mandate", money.MandateView.as_view(), name="api-mandate"),
    path("me/balance", money.BalanceView.as_view(), name="api-balance"),
    path("price", prices.PriceView.as_view(), name="api-price"),
    path("charging/start", charging.StartView.as_view(), name="api-charging-start"),
    path("charging/sessions/<id:session_id>", charging.LiveSessionView.as_view(), name="api-charging-session"),
    path("charging/sessions/<id:session_id>/stop", charging.StopView.as_view(), name="api-charging-stop"),
    path("charging/commands/<str:command_id>", charging.CommandView.as_view(), name="api-charging-command"),
    path("charging/reservations", charging.ReserveView.as_view(), name="api-charging-reserve"),
    path(
        "charging/reservations/<str:reservation_id>/cancel",
        charging.CancelReservationView.as_view(),
        name="api-charging-reservation-cancel",
    ),
    path("history/sessions", history.SessionsView.as_view(), name="api-history-sessions"),
    path("history/sessions/<id:session_id>", history.SessionView.as_view(), name="api-history-session"),
    path("history/charges", history.ChargesView.as_view(), name="api-history-charges"),
    path("history/charges/<id:charge_id>", history.ChargeView.as_view(), name="api-history-charge"),
    path("invoices", history.InvoicesView.as_view(), name="api-invoices"),
    path("invoices/<id:invoice_id>", history.InvoiceView.as_view(), name="api-invoice"),
    path("invoices/<id:invoice_id>/pdf", history.InvoicePdfView.as_view(), name="api-invoice-pdf"),
    path("chargers/near", chargers.NearView.as_view(), name="api-chargers-near"),
    path("chargers/map", chargers.MapView.as_view(), name="api-chargers-map"),
    path("chargers/locations/<id:location_id>", chargers.LocationView.as_view(), name="api-chargers-location"),
]
