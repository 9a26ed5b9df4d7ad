"""Dental and X12 code sets: teeth, surfaces, areas, NPI, ZIP, states, CDT code shape.

Facts from the reference (`dental-code-sets.md`), kept as frozensets so every rule
asks the same question the same way and lookups cost nothing per line.
"""

from __future__ import annotations

import re

PERMANENT_TEETH = frozenset(str(n) for n in range(1, 33))
PRIMARY_TEETH = frozenset("ABCDEFGHIJKLMNOPQRST")
SUPERNUMERARY_PERMANENT = frozenset(str(n) for n in range(51, 83))
SUPERNUMERARY_PRIMARY = frozenset(t + "S" for t in PRIMARY_TEETH)
SUPERNUMERARY = SUPERNUMERARY_PERMANENT | SUPERNUMERARY_PRIMARY
ALL_TEETH = PERMANENT_TEETH | PRIMARY_TEETH | SUPERNUMERARY

ANTERIOR_PERMANENT = frozenset(str(n) for n in (*range(6, 12), *range(22, 28)))
ANTERIOR_PRIMARY = frozenset("CDEFGHMNOPQR")
ANTERIOR = ANTERIOR_PERMANENT | ANTERIOR_PRIMARY
PREMOLARS = frozenset(str(n) for n in (4, 5, 12, 13, 20, 21, 28, 29))
MOLARS_PERMANENT = frozenset(str(n) for n in (1, 2, 3, 14, 15, 16, 17, 18, 19, 30, 31, 32))
MOLARS_PRIMARY = frozenset("ABIJKLST")
MOLARS = MOLARS_PERMANENT | MOLARS_PRIMARY
POSTERIOR = PREMOLARS | MOLARS
THIRD_MOLARS = frozenset({"1", "16", "17", "32"})

SURFACES = frozenset("BDFILMO")
POSTERIOR_ONLY_SURFACES = frozenset("BO")
ANTERIOR_ONLY_SURFACES = frozenset("FI")

# Area of the oral cavity (SV304, DE 1361): the ADA form's seven, then the rest of DE 1361.
AREAS_ADA = frozenset({"00", "01", "02", "10", "20", "30", "40"})
AREAS_OTHER = frozenset({"03", "04", "05", "06", "07", "08", "09", "L", "R"})
QUADRANTS = frozenset({"10", "20", "30", "40"})
ARCHES = frozenset({"01", "02"})

_QUADRANT_OF: dict[str, str] = {}
for _n in range(1, 33):
    _QUADRANT_OF[str(_n)] = "10" if _n <= 8 else "20" if _n <= 16 else "30" if _n <= 24 else "40"
    _QUADRANT_OF[str(_n + 50)] = _QUADRANT_OF[str(_n)]
for _letter, _q in zip("ABCDEFGHIJKLMNOPQRST", "1111122222333334444" + "4", strict=True):
    _QUADRANT_OF[_letter] = _q + "0"
    _QUADRANT_OF[_letter + "S"] = _q + "0"

CDT_CODE = re.compile(r"^D\d{4}$")
ZIP_CODE = re.compile(r"^\d{5}(\d{4})?$")
US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "UM",
        "FM",
        "MH",
        "PW",
        "AA",
        "AE",
        "AP",
    ]
)
CANADIAN_PROVINCES = frozenset(
    ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
)


def quadrant_of(tooth: str) -> str | None:
    """The SV304 quadrant code (10/20/30/40) a tooth lies in, or None for an unknown tooth."""
    return _QUADRANT_OF.get(tooth)


def arch_of(tooth: str) -> str | None:
    """01 maxillary, 02 mandibular."""
    q = quadrant_of(tooth)
    if q is None:
        return None
    return "01" if q in ("10", "20") else "02"


def tooth_kind(tooth: str) -> str | None:
    """anterior, premolar or molar (supernumeraries take their neighbour's kind)."""
    base = tooth
    if tooth in SUPERNUMERARY_PERMANENT:
        base = str(int(tooth) - 50)
    elif tooth in SUPERNUMERARY_PRIMARY:
        base = tooth[0]
    if base in ANTERIOR:
        return "anterior"
    if base in PREMOLARS:
        return "premolar"
    if base in MOLARS:
        return "molar"
    return None


def is_primary(tooth: str) -> bool:
    return tooth in PRIMARY_TEETH or tooth in SUPERNUMERARY_PRIMARY


def npi_is_valid(npi: str) -> bool:
    """Luhn over '80840' + NPI (dental-code-sets.md §12); first digit 1 or 2."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def code_in(code: str, spec: str) -> bool:
    """True when a CDT code matches a spec: 'D6010', a range 'D6000-D6199' or a prefix 'D2*'."""
    if spec.endswith("*"):
        return code.startswith(spec[:-1])
    if "-" in spec:
        low, _, high = spec.partition("-")
        return len(code) == len(low) and low <= code <= high
    return code == spec


def expand_codes(specs: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Every concrete CDT code a list of specs covers (ranges within D0000-D9999)."""
    out: set[str] = set()
    for spec in specs:
        if spec.endswith("*"):
            prefix = spec[:-1]
            width = 5 - len(prefix)
            out.update(prefix + str(n).zfill(width) for n in range(10**width))
        elif "-" in spec:
            low, _, high = spec.partition("-")
            out.update(f"D{n:04d}" for n in range(int(low[1:]), int(high[1:]) + 1))
        else:
            out.add(spec)
    return frozenset(out)
