"""Where our cards stand at each CPO: has the CPO received a card's latest change (its status, its validity)?

A CPO learns of card changes from the token push (`roaming.services.tokens`): its cursor in the token change log
says up to which change it has received. A card is up to date at a CPO when its latest change is at or below that
position; otherwise the CPO still allows (or refuses) it by an older state, which is what support needs to know
when a blocked card still charges or an unblocked one is still refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from drivers.models import TokenChange
from roaming.models import Partner, TokenPushCursor
from roaming.services.tokens import token_push_partners


@dataclass(frozen=True)
class TokenAtCpo:
    partner: Partner
    up_to_date: bool
    state: str  # in words, for support
    since: datetime | None  # the last successful push to the CPO


def tokens_at_cpos(token_ids: Iterable[int]) -> dict[int, list[TokenAtCpo]]:
    """Per token, per CPO that receives our tokens: whether it has the token's latest change. Three queries,
    however many tokens and partners."""
    ids = list(token_ids)
    latest = dict(
        TokenChange.objects.filter(token_id__in=ids)
        .values("token_id")
        .annotate(latest=Max("pk"))
        .values_list("token_id", "latest")
    )
    partners = list(token_push_partners().order_by("name"))
    cursors = {c.partner_id: c for c in TokenPushCursor.objects.filter(partner__in=[p.pk for p in partners])}
    return {
        token_id: [_at(partner, cursors.get(partner.pk), latest.get(token_id)) for partner in partners]
        for token_id in ids
    }


def _at(partner: Partner, cursor: TokenPushCursor | None, latest_change: int | None) -> TokenAtCpo:
    if latest_change is None:
        return TokenAtCpo(partner, True, "nothing to send", None)
    if cursor is None or cursor.registered_at != partner.registered_at:
        return TokenAtCpo(partner, False, "not pushed since the CPO registered", None)
    if latest_change <= cursor.last_change_id:
        return TokenAtCpo(partner, True, "up to date", cursor.last_success_at)
    if cursor.failures:
        return TokenAtCpo(
            partner,
            False,
            f"not received: {cursor.failures} failed pushes, last error: {cursor.last_error[:120]}",
            cursor.last_success_at,
        )
    return TokenAtCpo(partner, False, "not received yet (push pending)", cursor.last_success_at)
