"""Commands module, our Sender interface: `POST {commands_url}/{command_type}/{reference}`, the `response_url`
we gave with each command, where the CPO POSTs the CommandResult.

The body is a bare CommandResult, not an envelope (field notes 4); one wrapped in an envelope's `data` is read
too. Only the partner the command was sent to may answer it: anyone else gets 404, as for an unknown command.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from pydantic import ValidationError

from roaming.models import Command
from roaming.services.commands import command_result_received

from ..envelope import OcpiResponse
from ..errors import InvalidParameters, NotFound
from ..v2_2_1.types import describe_validation_error
from ..versions import wire_for
from .base import OcpiView


class CommandResultView(OcpiView):
    module = "commands"

    def post(self, request: HttpRequest, command_type: str, reference: str) -> OcpiResponse:
        command = self._command(command_type, reference)
        payload = self.parse_json(request)
        if isinstance(payload, dict) and "result" not in payload and isinstance(payload.get("data"), dict):
            payload = payload["data"]
        if not isinstance(payload, dict):
            raise InvalidParameters("Request body must be a CommandResult object.")
        try:
            result, message = wire_for(command.partner).command_result(payload)  # the agreed version's shape
        except ValidationError as exc:
            raise InvalidParameters(describe_validation_error(exc)) from exc
        if result not in Command.Result.values:
            raise InvalidParameters(f"Unknown CommandResultType {result!r}.")
        outcome = command_result_received(command=command, result=result, message=message)
        return OcpiResponse(status_message=outcome.note or None)

    def _command(self, command_type: str, reference: str) -> Command:
        try:
            key = uuid.UUID(reference)
        except ValueError:
            raise NotFound(f"Unknown command {reference}.") from None
        command = Command.objects.filter(reference=key, type=command_type, partner=self.caller.partner).first()
        if command is None:
            raise NotFound(f"Unknown command {command_type}/{reference}.")
        return command
