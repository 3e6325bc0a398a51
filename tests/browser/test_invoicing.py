"""Finance runs the month's invoicing from the back office and opens an invoice, as a page and as its PDF."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from billing.models import Invoice, SessionCharge
from cposim import Simulator
from drivers.models import Driver
from roaming.models import Partner
from tests.billing.factories import a_plan
from tests.browser.conftest import Screenshots, charged, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_run_invoicing_and_open_an_invoice_pdf(
    staff: Page, cpo: Partner, sim: Simulator, driver: Driver, shots: Screenshots
) -> None:
    a_plan(is_default=True, markup_percent=Decimal("10"))
    charged(sim, driver.tokens.get())  # in March 2026, the simulator's month
    charge = SessionCharge.objects.get(driver=driver)

    staff.goto("/admin/billing/invoicerun/")
    staff.get_by_role("link", name="Start an invoice run").click()
    staff.get_by_label("Period").fill("2026-03")
    shots("start a run")
    staff.get_by_role("button", name="Start").click()

    # The run is carried out after its commit (in-process here); the list shows how it ended.
    expect(messages(staff)).to_contain_text("started; its progress shows below.")
    run = staff.locator("#result_list tbody tr").first
    expect(run.locator(".field-status")).to_have_text("Done")
    expect(run.locator(".field-progress")).to_have_text("1 / 1")
    expect(run.locator(".field-invoices_created")).to_have_text("1")
    shots("run done")

    invoice = Invoice.objects.get(driver=driver)
    assert invoice.lines.filter(charge=charge).exists()
    staff.get_by_role("link", name="Invoices", exact=True).first.click()
    row = staff.locator("#result_list tbody tr", has_text=invoice.number)
    expect(row).to_contain_text("Ann Smit")
    shots("the invoice listed")

    # The HTML page opens in a new tab.
    with staff.context.expect_page() as opened:
        row.get_by_role("link", name="HTML").click()
    document = opened.value
    expect(document.get_by_text(invoice.number).first).to_be_visible()
    shots("the invoice page", page=document)
    document.close()

    # The PDF downloads: a real PDF, named after the invoice, with its number inside.
    with staff.expect_download() as downloading:
        row.get_by_role("link", name="PDF").click()
    download = downloading.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert invoice.number in "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    answer = staff.request.get(str(row.get_by_role("link", name="PDF").get_attribute("href")))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert re.match(r'attachment; filename="[^"]+\.pdf"', answer.headers["content-disposition"])
    assert answer.body() == pdf  # the stored document, rendered once

    staff.reload()
    expect(row).not_to_contain_text("not stored yet")
    shots("the pdf stored")
