"""Back office commands to CPOs: start a session on a driver's card, stop a live session, unlock a connector,
reserve and cancel a reservation, and send a timed-out or failed command again.

Thin: each page calls the command flow the driver app uses (`roaming.services.commands`), which stores the
command, POSTs it to the CPO and records its answer; the CPO's result arrives later at the command's own URL.
So every send ends on the command's page, which shows what the CPO said and reloads itself while the result is
pending. Sending needs `roaming.send_command`; each send is also in the admin's log under the user's name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from drivers.models import Token
from emsp.lib.admin import admin_link
from roaming import selectors
from roaming.models import ChargingSession, Command, Connector, Evse
from roaming.services.commands import (
    CommandRefused,
    command_cancel_reservation,
    command_location_party,
    command_reserve_now,
    command_retry,
    command_start_session,
    command_stop_session,
    command_unlock_connector,
)

from .tokens import CommandAdmin

#: The command's page reloads this often while its result is pending (a result usually comes in seconds).
REFRESH_SECONDS = 2


def _raw_id(model: type[Any], field: str) -> ForeignKeyRawIdWidget:
    """The admin's "pick by id, or look it up" widget for a form that is not a ModelForm."""
    return ForeignKeyRawIdWidget(model._meta.get_field(field).remote_field, admin.site)


class _EvseForm(forms.Form):
    evse = forms.ModelChoiceField(
        queryset=Evse.objects.select_related("location", "location__partner"),
        widget=_raw_id(Connector, "evse"),
        label="EVSE",
        help_text="Our EVSE's id (the magnifier looks it up by EVSE id or location).",
    )

    def party(self) -> tuple[str, str]:
        location = self.cleaned_data["evse"].location
        return (location.country_code, location.party_id)


class _TokenEvseForm(_EvseForm):
    token = forms.ModelChoiceField(
        queryset=Token.objects.select_related("driver__user"),
        widget=_raw_id(Command, "token"),
        help_text="The driver's card or app token that charges (it must be allowed to charge now).",
    )
    field_order = ("token", "evse")


class StartForm(_TokenEvseForm):
    connector_id = forms.CharField(max_length=36, required=False, help_text="Empty: the CPO picks one.")


class ReserveForm(_TokenEvseForm):
    expiry = forms.DateTimeField(label="Reserved until", help_text="UTC, e.g. 2026-11-25 18:30.")

    def clean_expiry(self) -> Any:
        if self.cleaned_data["expiry"] <= timezone.now():
            raise forms.ValidationError("A reservation must end in the future.")
        return self.cleaned_data["expiry"]


class UnlockForm(_EvseForm):
    connector_id = forms.CharField(max_length=36, help_text="The connector's id at the EVSE, e.g. 1.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        evse, connector_id = data.get("evse"), data.get("connector_id")
        if evse is not None and connector_id and not evse.connectors.filter(ocpi_id=connector_id).exists():
            raise forms.ValidationError(f"{evse} has no connector {connector_id}.")
        return data


class CommandConsoleAdmin(CommandAdmin):
    """The command list and pages, plus sending commands from the back office."""

    fields = (
        "outcome",
        "type",
        "partner",
        "state",
        "response",
        "response_message",
        "result",
        "result_message",
        "error",
        "send_attempts",
        "next_attempt_at",
        "send_until",
        "session_link",
        "retries",
        "token",
        "location_id",
        "evse_uid",
        "connector_id",
        "session_id",
        "reservation_id",
        "authorization_reference",
        "reference",
        "request",
        "response_timeout",
        "deadline",
        "created_at",
        "responded_at",
        "result_at",
    )
    readonly_fields = ("outcome", "session_link", "retries", "reference", "created_at")

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("roaming.send_command")

    @admin.display(description="Outcome")
    def outcome(self, obj: Command) -> str:
        outcome = selectors.command_outcome(obj)
        if outcome.state == "pending":
            return format_html("{} <em>(this page reloads every {} s)</em>", outcome.message, REFRESH_SECONDS)
        return format_html("<strong>{}</strong>: {}", outcome.state.replace("_", " "), outcome.message)

    @admin.display(description="Session")
    def session_link(self, obj: Command) -> str:
        return admin_link(selectors.command_session(obj))

    @admin.display(description="Retries")
    def retries(self, obj: Command) -> str:
        parts = []
        if obj.retry_of_id:
            parts.append(format_html("a retry of {}", admin_link(obj.retry_of)))
        retried_as = Command.objects.filter(retry_of=obj).first()
        if retried_as is not None:
            parts.append(format_html("retried as {}", admin_link(retried_as)))
        return format_html_join(" · ", "{}", ((p,) for p in parts)) if parts else "-"

    def get_urls(self) -> list[URLPattern]:
        def view(name: str, route: str, func: Any) -> URLPattern:
            return path(route, self.admin_site.admin_view(func), name=f"roaming_command_{name}")

        return [
            view("start", "start/", self.start_view),
            view("reserve", "reserve/", self.reserve_view),
            view("unlock", "unlock/", self.unlock_view),
            view("stop", "stop/<int:session_pk>/", self.stop_view),
            view("cancel", "<int:pk>/cancel-reservation/", self.cancel_view),
            view("retry", "<int:pk>/retry/", self.retry_view),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        command = Command.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if command is not None:
            can_send = self.has_send_permission(request)
            extra_context = {
                **(extra_context or {}),
                "command_pending": selectors.command_outcome(command).state == "pending",
                "refresh_seconds": REFRESH_SECONDS,
                "can_retry": can_send
                and selectors.command_retryable(command)
                and not Command.objects.filter(retry_of=command).exists(),
                "can_cancel": can_send
                and command.type == Command.Type.RESERVE_NOW
                and command.result == Command.Result.ACCEPTED,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- sending --------------------------------------------------------------------------------------------

    def _check_send(self, request: HttpRequest) -> None:
        if not self.has_send_permission(request):
            raise PermissionDenied

    def _sent(self, request: HttpRequest, command: Command) -> HttpResponse:
        """The command's page, where its outcome shows as it arrives; the send is logged under the user."""
        self.log_addition(request, command, f"Sent {command.type} from the back office.")
        outcome = selectors.command_outcome(command)
        level = messages.ERROR if outcome.state in ("failed", "rejected") else messages.SUCCESS
        self.message_user(request, f"{command.type} sent to {command.partner}: {outcome.message}", level)
        return HttpResponseRedirect(reverse("admin:roaming_command_change", args=[command.pk]))

    def _form_page(self, request: HttpRequest, form: forms.Form, title: str, intro: str = "") -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": title,
            "intro": intro,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/roaming/command/send.html", context)

    def _initial(self, request: HttpRequest, *names: str) -> dict[str, str]:
        """Prefilled from links elsewhere (e.g. ?token=12&evse=34)."""
        return {name: request.GET[name] for name in names if request.GET.get(name)}

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """START_SESSION on a driver's card at an EVSE (e.g. the card does not work, the driver is on the phone)."""
        self._check_send(request)
        form = StartForm(request.POST or None, initial=self._initial(request, "token", "evse"))
        if request.method == "POST" and form.is_valid():
            evse = form.cleaned_data["evse"]
            try:
                command = command_start_session(
                    form.cleaned_data["token"],
                    evse.location.ocpi_id,
                    evse.uid,
                    form.cleaned_data["connector_id"] or None,
                    party=form.party(),
                )
            except CommandRefused as exc:
                form.add_error(None, exc.message)
            else:
                return self._sent(request, command)
        return self._form_page(request, form, "Start a session")

    def reserve_view(self, request: HttpRequest) -> HttpResponse:
        """RESERVE_NOW of an EVSE for a driver's card."""
        self._check_send(request)
        initial: dict[str, Any] = {"expiry": timezone.now() + timedelta(minutes=30), **self._initial(request, "token")}
        form = ReserveForm(request.POST or None, initial={**initial, **self._initial(request, "evse")})
        if request.method == "POST" and form.is_valid():
            evse = form.cleaned_data["evse"]
            try:
                command = command_reserve_now(
                    form.cleaned_data["token"],
                    evse.location.ocpi_id,
                    expiry_date=form.cleaned_data["expiry"],
                    evse_uid=evse.uid,
                    party=form.party(),
                )
            except CommandRefused as exc:
                form.add_error(None, exc.message)
            else:
                return self._sent(request, command)
        return self._form_page(request, form, "Reserve an EVSE")

    def unlock_view(self, request: HttpRequest) -> HttpResponse:
        """UNLOCK_CONNECTOR: release a cable stuck in the charger (staff only, never from the driver's app)."""
        self._check_send(request)
        form = UnlockForm(request.POST or None, initial=self._initial(request, "evse", "connector_id"))
        if request.method == "POST" and form.is_valid():
            evse = form.cleaned_data["evse"]
            try:
                command = command_unlock_connector(
                    evse.location.ocpi_id, evse.uid, form.cleaned_data["connector_id"], party=form.party()
                )
            except CommandRefused as exc:
                form.add_error(None, exc.message)
            else:
                return self._sent(request, command)
        return self._form_page(request, form, "Unlock a connector")

    def stop_view(self, request: HttpRequest, session_pk: int) -> HttpResponse:
        """STOP_SESSION of a live session (the button on the session's page posts here; a GET asks first)."""
        self._check_send(request)
        session = get_object_or_404(ChargingSession.objects.select_related("partner", "token"), pk=session_pk)
        form = forms.Form(request.POST if request.method == "POST" else None)  # a button: no fields
        if request.method == "POST" and form.is_valid():
            if not session.is_live:
                form.add_error(None, f"Session {session.ocpi_id} is {session.status}: there is nothing to stop.")
            else:
                try:
                    # The session's token goes with the command (not sent), so it shows with the driver's.
                    command = command_stop_session(session.ocpi_id, session.partner, token=session.token)
                except CommandRefused as exc:
                    form.add_error(None, exc.message)
                else:
                    return self._sent(request, command)
        intro = f"Ask {session.partner} to stop session {session.ocpi_id} ({session.status})."
        return self._form_page(request, form, f"Stop session {session.ocpi_id}", intro)

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """CANCEL_RESERVATION of the reservation a RESERVE_NOW command made."""
        self._check_send(request)
        reservation = get_object_or_404(Command.objects.select_related("partner", "token"), pk=pk)
        form = forms.Form(request.POST if request.method == "POST" else None)  # a button: no fields
        if reservation.type != Command.Type.RESERVE_NOW:
            raise PermissionDenied
        if request.method == "POST" and form.is_valid():
            party = command_location_party(partner=reservation.partner, location_id=reservation.location_id)
            try:
                command = command_cancel_reservation(
                    reservation.reservation_id, reservation.partner, token=reservation.token, to_party=party
                )
            except CommandRefused as exc:
                form.add_error(None, exc.message)
            else:
                return self._sent(request, command)
        intro = f"Ask {reservation.partner} to cancel reservation {reservation.reservation_id}."
        return self._form_page(request, form, "Cancel a reservation", intro)

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Send a timed-out or failed command again (a new command with the same parameters)."""
        self._check_send(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:roaming_command_change", args=[pk]))
        command = get_object_or_404(Command.objects.select_related("partner", "token"), pk=pk)
        try:
            retry = command_retry(command=command)
        except CommandRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:roaming_command_change", args=[pk]))
        return self._sent(request, retry)


admin.site.unregister(Command)
admin.site.register(Command, CommandConsoleAdmin)
