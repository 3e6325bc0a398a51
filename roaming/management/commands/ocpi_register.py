from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roaming.services.partners import HandshakeError, register_with


class Command(BaseCommand):
    help = "Register with a partner that gave us its versions URL and a token A."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("versions_url")
        parser.add_argument("token_a")
        parser.add_argument("--name", default="", help="defaults to the partner's business name")
        parser.add_argument(
            "--raw-token", action="store_true", help="send our token unencoded (platforms that predate OCPI 2.2.1)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner = register_with(
                versions_url=options["versions_url"],
                token_a=options["token_a"],
                name=options["name"],
                base64_token=not options["raw_token"],
            )
        except HandshakeError as exc:
            raise CommandError(f"Registration failed: {exc.message}") from exc
        parties = ", ".join(f"{r.country_code}/{r.party_id} {r.role}" for r in partner.roles.all())
        self.stdout.write(f"Registered with {partner.name} (id {partner.pk}), OCPI {partner.version}: {parties}")
