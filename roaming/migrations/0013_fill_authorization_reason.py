"""Authorizations from before reasons were kept: the reason where OCPI's `allowed` tells it (NOT_ALLOWED was a
card not activated yet or a suspended driver: left empty, "not recorded"), and the uid and type of their token
(every one of them had a token)."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import OuterRef, Subquery

REASON_BY_ALLOWED = {
    "ALLOWED": "allowed",
    "BLOCKED": "blocked",
    "EXPIRED": "expired",
    "NO_CREDIT": "credit_limit",
}


def fill(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Authorization = apps.get_model("roaming", "Authorization")
    Token = apps.get_model("drivers", "Token")
    for allowed, reason in REASON_BY_ALLOWED.items():
        Authorization.objects.filter(allowed=allowed, reason="").update(reason=reason)
    token = Token.objects.filter(pk=OuterRef("token_id"))
    Authorization.objects.filter(token__isnull=False, token_uid="").update(
        token_uid=Subquery(token.values("uid")[:1]), token_type=Subquery(token.values("type")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("roaming", "0012_authorization_reason"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
