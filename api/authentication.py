"""How the app signs in to the API: a JWT access token (djangorestframework-simplejwt)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework_simplejwt.authentication import JWTAuthentication

from emsp.lib.prepared import PreparedQuery

User = get_user_model()

# Every API call reads the user and their driver (`request.user.driver`): one query for both, compiled once per
# thread. On the live-session poll, which the apps call every few seconds, these were two of its three queries
# and most of its Python (measured with bench/live_session_bench.py).
_user_with_driver = PreparedQuery(lambda pk: User.objects.select_related("driver").filter(pk=pk), ints=("pk",))


class _UsersWithTheirDriver:
    """The part of the user model simplejwt's `get_user` reads (`objects.get(id=...)`, `DoesNotExist`)."""

    DoesNotExist = User.DoesNotExist

    @property
    def objects(self) -> _UsersWithTheirDriver:
        return self

    def get(self, **lookup: Any) -> AbstractBaseUser:
        (user_id,) = lookup.values()
        try:
            found = _user_with_driver.all(pk=int(user_id))
        except (TypeError, ValueError):
            found = []
        if not found:
            raise User.DoesNotExist
        return found[0]


class DriverJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication as it is (signature, expiry, an active user, a token revoked by a new password),
    reading the user with their driver in one prepared query."""

    def __init__(self) -> None:
        super().__init__()
        self.user_model = _UsersWithTheirDriver()  # type: ignore[assignment]
