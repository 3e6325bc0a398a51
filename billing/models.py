"""Tariff engine, reconciliation and invoices. (Models arrive with the charging work; the app exists so the
dependency direction drivers ← roaming ← billing is fixed from the start.)"""
