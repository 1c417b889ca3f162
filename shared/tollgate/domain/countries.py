"""ISO 3166-1 alpha-2 countries, the EU's members, and a tenant's billing address. Pure; no AWS.

The list is the 249 officially assigned codes (no user-assigned ones such as ``XK``), so a
billing address names a country a tax rate can name too. EU membership decides reverse
charge (``tollgate.domain.tax``); it uses ISO codes, so Greece is ``GR`` (its VAT prefix is
``EL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ALPHA_2 = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
    "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
    "DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET "
    "FI FJ FK FM FO FR "
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
    "HK HM HN HR HT HU "
    "ID IE IL IM IN IO IQ IR IS IT "
    "JE JM JO JP "
    "KE KG KH KI KM KN KP KR KW KY KZ "
    "LA LB LC LI LK LR LS LT LU LV LY "
    "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ "
    "NA NC NE NF NG NI NL NO NP NR NU NZ "
    "OM "
    "PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA "
    "RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
    "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ "
    "UA UG UM US UY UZ "
    "VA VC VE VG VI VN VU "
    "WF WS "
    "YE YT "
    "ZA ZM ZW"
)
COUNTRIES: frozenset[str] = frozenset(_ALPHA_2.split())

_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
EU_MEMBERS: frozenset[str] = frozenset(_EU.split())
"""The 27 member states (since 2020-02-01)."""

MAX_ADDRESS_FIELD = 200


def is_country(code: str) -> bool:
    return code in COUNTRIES


def is_eu(code: str | None) -> bool:
    return code in EU_MEMBERS


@dataclass(frozen=True)
class Address:
    """A tenant's billing address; only ``country`` is required."""

    country: str
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The stored and API form: every field, absent ones null."""
        return {
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postal_code": self.postal_code,
            "region": self.region,
            "country": self.country,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Address | None:
        if not d:
            return None
        return cls(
            country=d["country"],
            line1=d.get("line1"),
            line2=d.get("line2"),
            city=d.get("city"),
            postal_code=d.get("postal_code"),
            region=d.get("region"),
        )
