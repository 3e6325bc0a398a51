# Our price of each CDR, disputes and their log. CDRs stored before billing existed join the pricing backlog.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backlog_of_stored_cdrs(apps, schema_editor):
    """Every CDR stored so far gets a PENDING price: the workers price them like new ones."""
    Cdr = apps.get_model("roaming", "Cdr")
    CdrPrice = apps.get_model("billing", "CdrPrice")
    ids = list(Cdr.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        CdrPrice.objects.bulk_create(CdrPrice(cdr_id=pk, status="PENDING") for pk in ids[start : start + 2000])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('roaming', '0009_cdr_location_unlinked'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Dispute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('currency', models.CharField(max_length=3)),
                ('amount_at_stake', models.DecimalField(decimal_places=4, help_text="CPO's total minus ours, excl. VAT: what we'd overpay.", max_digits=12)),
                ('differences', models.JSONField(default=list, help_text='[{dimension, cpo, ours, difference}], as strings.')),
                ('status', models.CharField(choices=[('OPEN', 'Open'), ('CPO_ACCEPTED', "CPO's price accepted"), ('OURS_ACCEPTED', 'our price accepted'), ('RESOLVED', 'Resolved')], default='OPEN', max_length=13)),
                ('note', models.TextField(blank=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('opened_at', models.DateTimeField()),
                ('cdr', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='disputes', to='roaming.cdr')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='disputes', to='roaming.partner')),
            ],
        ),
        migrations.CreateModel(
            name='DisputeEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('OPEN', 'Open'), ('CPO_ACCEPTED', "CPO's price accepted"), ('OURS_ACCEPTED', 'our price accepted'), ('RESOLVED', 'Resolved')], max_length=13)),
                ('note', models.TextField(blank=True)),
                ('at', models.DateTimeField()),
                ('dispute', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='billing.dispute')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ('at', 'pk'),
            },
        ),
        migrations.CreateModel(
            name='CdrPrice',
            fields=[
                ('cdr', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='price', serialize=False, to='roaming.cdr')),
                ('status', models.CharField(choices=[('PENDING', 'Pending'), ('PRICED', 'Priced'), ('UNPRICED', 'Unpriced'), ('CREDITED', 'Credited')], db_default='PENDING', default='PENDING', max_length=8)),
                ('reason', models.CharField(blank=True, db_default='', default='', help_text='Why it is unpriced.', max_length=255)),
                ('waiting_for', models.CharField(blank=True, choices=[('', 'nothing (needs a person)'), ('tariff', 'Tariff'), ('location', 'Location'), ('cdr', 'the CDR it credits')], db_default='', default='', max_length=8)),
                ('waiting_id', models.CharField(blank=True, db_default='', default='', max_length=39)),
                ('currency', models.CharField(blank=True, db_default='', default='', max_length=3)),
                ('tariff_ocpi_id', models.CharField(blank=True, db_default='', default='', max_length=36, verbose_name='tariff id')),
                ('tariff_last_updated', models.DateTimeField(blank=True, null=True, verbose_name='tariff version')),
                ('source', models.CharField(blank=True, choices=[('cdr', 'tariffs inside the CDR'), ('held', 'our copy of the tariff')], db_default='', default='', max_length=4)),
                ('total_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='total excl. VAT')),
                ('total_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='total incl. VAT')),
                ('energy_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='energy excl. VAT')),
                ('energy_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='energy incl. VAT')),
                ('time_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='time excl. VAT')),
                ('time_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='time incl. VAT')),
                ('parking_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='parking excl. VAT')),
                ('parking_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='parking incl. VAT')),
                ('fixed_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='fixed excl. VAT')),
                ('fixed_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='fixed incl. VAT')),
                ('reservation_excl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='reservation excl. VAT')),
                ('reservation_incl_vat', models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True, verbose_name='reservation incl. VAT')),
                ('energy_kwh', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True, verbose_name='billed energy (kWh)')),
                ('time_hours', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True, verbose_name='billed time (h)')),
                ('parking_hours', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True, verbose_name='billed parking (h)')),
                ('reservation_hours', models.DecimalField(blank=True, decimal_places=6, max_digits=14, null=True, verbose_name='billed reservation (h)')),
                ('lines', models.JSONField(blank=True, db_default=models.Value([], models.JSONField()), default=list, help_text="The engine's breakdown; amounts as strings.")),
                ('warnings', models.JSONField(blank=True, db_default=models.Value([], models.JSONField()), default=list)),
                ('priced_at', models.DateTimeField(blank=True, null=True)),
                ('tariff', models.ForeignKey(blank=True, help_text='Our copy, when it priced the CDR; empty when the CDR carried its own tariffs.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='roaming.tariff')),
            ],
            options={
                'verbose_name': 'CDR price',
                'indexes': [models.Index(condition=models.Q(('status', 'PENDING')), fields=['cdr'], name='cdrprice_pending'), models.Index(condition=models.Q(('status', 'UNPRICED')), fields=['waiting_for', 'waiting_id'], name='cdrprice_waiting')],
            },
        ),
        migrations.AddIndex(
            model_name='dispute',
            index=models.Index(fields=['partner', 'status', 'opened_at'], name='dispute_partner_status'),
        ),
        migrations.AddConstraint(
            model_name='dispute',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'OPEN')), fields=('cdr',), name='one_open_dispute_per_cdr'),
        ),
        migrations.RunPython(backlog_of_stored_cdrs, migrations.RunPython.noop),
    ]
