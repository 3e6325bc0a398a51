"""Collection: mandates validated before they are saved, pain.008 batches that validate against the schema,
payments that settle invoices, and returned debits that re-open them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sepaxml
import time_machine
import xmlschema
from pytest_django.fixtures import Settings as SettingsWrapper

from billing.collection import (
    CollectionError,
    MandateError,
    collection_batch_create,
    earliest_due_date,
    is_target2_day,
    mandate_create,
    mandate_revoke,
    payment_record,
    payment_return,
)
from billing.models import CollectionBatch, Invoice, Mandate, Payment
from drivers.models import Driver

from .factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"}
XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.008.001.02.xsd"
#: Monday 2 November 2026, noon in Amsterdam.
TODAY = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
DUE = date(2026, 11, 5)  # Thursday: 2 days' notice from Monday (Wednesday), then one business day


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=False):
        yield


def _mandate(driver: Driver, iban: str = "NL91ABNA0417164300", **fields: object) -> Mandate:
    return mandate_create(
        driver=driver,
        iban=iban,
        debtor_name=str(driver),
        signed_on=date(2026, 9, 1),
        **fields,  # type: ignore[arg-type]
    )


# --- mandates --------------------------------------------------------------------------------------------


def test_a_mandate_takes_a_valid_iban_compacted_and_derives_the_bic() -> None:
    mandate = _mandate(a_driver(), iban="nl91 abna 0417 1643 00")

    assert (mandate.iban, mandate.bic, mandate.status) == ("NL91ABNA0417164300", "ABNANL2A", Mandate.Status.ACTIVE)
    assert len(mandate.reference) <= 35
    assert mandate.reference != _mandate(a_driver("Bob Jansen")).reference


@pytest.mark.parametrize(
    ("iban", "bic", "field", "says"),
    [
        ("NL91ABNA0417164301", "", "iban", "checksum"),  # mod 97 != 1
        ("NL91ABNA041716430", "", "iban", "length"),  # NL IBANs have 18 characters
        ("XX91ABNA0417164300", "", "iban", "country"),
        ("NL91ABNA0417164300", "ABNANL2", "bic", "length"),
        ("NL91ABNA0417164300", "ABNAXX2A", "bic", "country"),
    ],
)
def test_an_invalid_iban_or_bic_is_refused_naming_the_field(iban: str, bic: str, field: str, says: str) -> None:
    driver = a_driver()
    with pytest.raises(MandateError) as error:
        _mandate(driver, iban=iban, bic=bic)

    assert error.value.field == field
    assert says in str(error.value).lower()
    assert not Mandate.objects.exists()


def test_a_given_bic_is_kept_and_a_reference_is_unique() -> None:
    driver = a_driver()
    mandate = _mandate(driver, iban="DE89370400440532013000", bic="COBADEFFXXX", reference="MNDT-1")
    assert (mandate.bic, mandate.reference) == ("COBADEFFXXX", "MNDT-1")

    with pytest.raises(MandateError) as error:
        _mandate(a_driver("Bob Jansen"), reference="MNDT-1")
    assert error.value.field == "reference"
    with pytest.raises(MandateError) as error:
        _mandate(driver, reference="R" * 36)
    assert error.value.field == "reference"


def test_a_new_mandate_revokes_the_active_one() -> None:
    driver = a_driver()
    old = _mandate(driver)
    new = _mandate(driver, iban="DE89370400440532013000")

    old.refresh_from_db()
    assert (old.status, old.revoked_on) == (Mandate.Status.REVOKED, date(2026, 9, 1))
    assert list(Mandate.objects.filter(driver=driver, status=Mandate.Status.ACTIVE)) == [new]
    mandate_revoke(mandate=new)
    assert not Mandate.objects.filter(driver=driver, status=Mandate.Status.ACTIVE).exists()


# --- collection batches ----------------------------------------------------------------------------------


def test_the_earliest_due_date_counts_notice_days_then_a_target2_business_day() -> None:
    assert earliest_due_date(today=date(2026, 11, 2)) == DUE
    # Wednesday before Easter 2026: +2 is Good Friday, then Saturday, Sunday, Easter Monday: Tuesday.
    assert earliest_due_date(today=date(2026, 4, 1)) == date(2026, 4, 7)
    assert not is_target2_day(date(2026, 12, 26))
    assert not is_target2_day(date(2026, 5, 1))
    assert is_target2_day(date(2026, 5, 4))


def _scenario() -> dict[str, Invoice]:
    """First (never collected), recurrent (collected before), partly paid, not due yet, no mandate, paid."""
    first, recurrent, partly, later, no_mandate, paid = (
        a_driver(name) for name in ("Ann Smit", "Bob Jansen", "Cor Bakker", "Dirk Vos", "Eva Kok", "Fay Dam")
    )
    for driver in (first, recurrent, partly, later, paid):
        _mandate(driver)
    Mandate.objects.filter(driver=recurrent).update(last_collected_on=date(2026, 10, 6))
    invoices = {
        "first": an_invoice(first, "121.00", due_date=DUE, number="INV-2026-000001"),
        "recurrent": an_invoice(recurrent, "30.25", due_date=date(2026, 11, 1), number="INV-2026-000002"),
        "partly": an_invoice(partly, "50.00", due_date=DUE, number="INV-2026-000003"),
        "later": an_invoice(later, "10.00", due_date=date(2026, 11, 20), number="INV-2026-000004"),
        "no_mandate": an_invoice(no_mandate, "10.00", due_date=DUE, number="INV-2026-000005"),
        "paid": an_invoice(paid, "10.00", due_date=DUE, number="INV-2026-000006"),
    }
    payment_record(invoice=invoices["partly"], amount=Decimal("20.00"), received_on=date(2026, 11, 1))
    payment_record(invoice=invoices["paid"], amount=Decimal("10.00"), received_on=date(2026, 11, 1))
    return invoices


def _transactions(xml: str) -> dict[str, tuple[str, str, str]]:
    """End-to-end id -> (sequence type, amount, mandate id), read back from the file."""
    root = ET.fromstring(xml.encode())
    found = {}
    for block in root.iterfind(".//p:PmtInf", NS):
        sequence = block.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS)
        for tx in block.iterfind("p:DrctDbtTxInf", NS):
            found[tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS)] = (
                sequence,
                tx.findtext("p:InstdAmt", namespaces=NS),
                tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=NS),
            )
    return found  # type: ignore[return-value]


def test_a_batch_is_a_pain008_file_that_validates_with_one_block_per_sequence_type() -> None:
    invoices = _scenario()

    batch = collection_batch_create(due_date=DUE)

    xmlschema.XMLSchema(str(XSD)).validate(batch.xml)  # raises on any schema error
    root = ET.fromstring(batch.xml.encode())
    blocks = root.findall(".//p:PmtInf", NS)
    assert sorted(b.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS) or "" for b in blocks) == ["FRST", "RCUR"]
    assert {b.findtext("p:ReqdColltnDt", namespaces=NS) for b in blocks} == {"2026-11-05"}
    assert {b.findtext(".//p:CdtrSchmeId/p:Id/p:PrvtId/p:Othr/p:Id", namespaces=NS) for b in blocks} == {
        "NL97ZZZ123456780000"
    }
    assert {b.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) for b in blocks} == {"NL91ABNA0417164300"}
    mandates = {i.driver_id: i.driver.mandates.get().reference for i in invoices.values() if i.driver.mandates.exists()}
    assert _transactions(batch.xml) == {
        "INV-2026-000001": ("FRST", "121.00", mandates[invoices["first"].driver_id]),
        "INV-2026-000002": ("RCUR", "30.25", mandates[invoices["recurrent"].driver_id]),
        "INV-2026-000003": ("FRST", "30.00", mandates[invoices["partly"].driver_id]),  # what is left
    }
    assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "181.25"
    assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId", namespaces=NS) == batch.message_id
    assert (batch.count, batch.total, batch.due_date) == (3, Decimal("181.25"), DUE)


def test_a_batch_records_the_payments_settles_the_invoices_and_marks_the_mandates() -> None:
    invoices = _scenario()

    batch = collection_batch_create(due_date=DUE)

    debits = Payment.objects.filter(batch=batch)
    assert {(p.invoice.number, p.amount, p.method, p.status, p.received_on) for p in debits} == {
        ("INV-2026-000001", Decimal("121.00"), "DIRECT_DEBIT", "RECEIVED", DUE),
        ("INV-2026-000002", Decimal("30.25"), "DIRECT_DEBIT", "RECEIVED", DUE),
        ("INV-2026-000003", Decimal("30.00"), "DIRECT_DEBIT", "RECEIVED", DUE),
    }
    assert all(p.mandate is not None and p.mandate.driver_id == p.invoice.driver_id for p in debits)
    for name in ("first", "recurrent", "partly"):
        invoices[name].refresh_from_db()
        assert (invoices[name].status, invoices[name].balance) == (Invoice.Status.PAID, Decimal("0"))
        assert invoices[name].driver.mandates.get().last_collected_on == DUE
        invoices[name].driver.refresh_from_db()
        assert invoices[name].driver.outstanding == Decimal("0")
    for name in ("later", "no_mandate"):
        invoices[name].refresh_from_db()
        assert invoices[name].status == Invoice.Status.OPEN

    with pytest.raises(CollectionError, match="Nothing to collect"):
        collection_batch_create(due_date=DUE)  # nothing is collected twice


def test_a_due_date_too_soon_or_on_a_bank_holiday_is_refused() -> None:
    _scenario()
    with pytest.raises(CollectionError, match="too soon: the earliest is 2026-11-05"):
        collection_batch_create(due_date=date(2026, 11, 4))
    with pytest.raises(CollectionError, match="not a TARGET2 business day"):
        collection_batch_create(due_date=date(2026, 12, 25))
    assert not CollectionBatch.objects.exists()


def test_a_file_that_does_not_validate_writes_nothing(settings: SettingsWrapper) -> None:
    invoices = _scenario()
    settings.BILLING_COMPANY = {**settings.BILLING_COMPANY, "creditor_id": "NL97ZZZ" + "1" * 40}  # Max35Text

    with pytest.raises(CollectionError, match="does not validate against its schema"):
        collection_batch_create(due_date=DUE)

    assert not CollectionBatch.objects.exists()
    assert not Payment.objects.filter(method=Payment.Method.DIRECT_DEBIT).exists()
    invoices["first"].refresh_from_db()
    assert invoices["first"].status == Invoice.Status.OPEN
    assert invoices["first"].driver.mandates.get().last_collected_on is None


# --- payments and returns --------------------------------------------------------------------------------


def test_payments_settle_an_invoice_partly_then_fully() -> None:
    driver = a_driver()
    invoice = an_invoice(driver, "121.00")

    payment_record(invoice=invoice, amount=Decimal("100.00"), received_on=date(2026, 11, 2), reference="TRF-1")
    invoice.refresh_from_db()
    driver.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, driver.outstanding) == ("OPEN", Decimal("100.00"), Decimal("21.00"))

    payment_record(invoice=invoice, amount=Decimal("21.00"), received_on=date(2026, 11, 3))
    invoice.refresh_from_db()
    driver.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, driver.outstanding) == ("PAID", Decimal("121.00"), Decimal("0"))

    with pytest.raises(CollectionError, match="positive"):
        payment_record(invoice=invoice, amount=Decimal("-1"), received_on=date(2026, 11, 3))
    with pytest.raises(CollectionError, match="decimals"):
        payment_record(invoice=invoice, amount=Decimal("1.001"), received_on=date(2026, 11, 3))


def test_a_returned_debit_reopens_the_invoice_and_the_next_batch_collects_it_again() -> None:
    invoices = _scenario()
    batch = collection_batch_create(due_date=DUE)
    debit = Payment.objects.get(batch=batch, invoice=invoices["first"])

    returned = payment_return(payment=debit, reason="am04", returned_on=date(2026, 11, 9))

    assert (returned.status, returned.return_reason, returned.returned_on) == ("RETURNED", "AM04", date(2026, 11, 9))
    invoice = Invoice.objects.get(pk=invoices["first"].pk)
    assert (invoice.status, invoice.paid_amount) == (Invoice.Status.OPEN, Decimal("0"))
    invoice.driver.refresh_from_db()
    assert invoice.driver.outstanding == Decimal("121.00")
    with pytest.raises(CollectionError, match="already returned"):
        payment_return(payment=debit, reason="AM04")
    with pytest.raises(CollectionError, match="reason code"):
        payment_return(payment=Payment.objects.get(batch=batch, invoice=invoices["recurrent"]), reason="broke")

    with time_machine.travel(datetime(2026, 11, 9, 11, 0, tzinfo=UTC), tick=False):
        again = collection_batch_create(due_date=date(2026, 11, 12))
    assert _transactions(again.xml) == {
        "INV-2026-000001": ("RCUR", "121.00", invoice.driver.mandates.get().reference),
    }
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
