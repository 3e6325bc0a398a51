from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from roaming.services.partners import our_versions_url, partner_invite


class Command(BaseCommand):
    help = "Invite a partner to register with us: prints our versions URL and a fresh token A."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the partner's name, for the back office")

    def handle(self, *args: Any, **options: Any) -> None:
        partner, token_a = partner_invite(name=options["name"])
        self.stdout.write(f"Partner:      {partner.name} (id {partner.pk})")
        self.stdout.write(f"Versions URL: {our_versions_url()}")
        self.stdout.write(f"Token A:      {token_a}")
