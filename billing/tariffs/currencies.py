"""ISO 4217 currency codes we accept, with their minor units (decimals), for validation and final rounding.

Active codes only; precious metals, test codes and funds codes that never appear on a charging tariff are left
out. Most currencies have 2 decimals; the exceptions are listed, everything else in CODES has 2.
"""

from __future__ import annotations

from decimal import Decimal


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMALS = _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
THREE_DECIMALS = _codes("BHD IQD JOD KWD LYD OMR TND")
FOUR_DECIMALS = _codes("CLF UYW")

CODES = (
    ZERO_DECIMALS
    | THREE_DECIMALS
    | FOUR_DECIMALS
    | _codes(
        """
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
        CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
        GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
        LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN
        PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL
        THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL
        """
    )
)


def is_known(code: str) -> bool:
    return code in CODES


def minor_unit(code: str) -> Decimal:
    """The smallest amount of the currency, e.g. Decimal('0.01') for EUR, Decimal('1') for JPY."""
    if code in ZERO_DECIMALS:
        return Decimal(1)
    if code in THREE_DECIMALS:
        return Decimal("0.001")
    if code in FOUR_DECIMALS:
        return Decimal("0.0001")
    return Decimal("0.01")
