"""Billing's tables, by subject: what CDRs cost us (`pricing`), what drivers pay (`plans`), what we invoice
them (`invoices`) and how we collect it (`collection`)."""

from .collection import CollectionBatch, Fee, Mandate, Payment, Reminder
from .cpo_credits import CpoCreditInvoice, CpoCreditLine
from .invoices import Invoice, InvoiceLine, InvoiceRun, InvoiceSequence
from .plans import PlanPriceRule, PlanSubscription, PowerClass, RetailPlan, SessionCharge
from .pricing import CdrPrice, Dispute, DisputeEvent

__all__ = [
    "CdrPrice",
    "CollectionBatch",
    "CpoCreditInvoice",
    "CpoCreditLine",
    "Dispute",
    "DisputeEvent",
    "Fee",
    "Invoice",
    "InvoiceLine",
    "InvoiceRun",
    "InvoiceSequence",
    "Mandate",
    "Payment",
    "PlanPriceRule",
    "PlanSubscription",
    "PowerClass",
    "Reminder",
    "RetailPlan",
    "SessionCharge",
]
