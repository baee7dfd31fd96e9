#!/usr/bin/env python3
"""Generate tests/fixtures/guard/pii.jsonl: business sentences with labelled
structured PII, plus near-miss negatives, for the PII scanner.

Requires Python 3.11+ and these PyPI packages (exact versions):

    pip install Faker==40.63.0

Usage: python3 scripts/guard-corpora/make_pii.py [--out DIR]

Deterministic: Faker is seeded with 1234 and every other choice comes from
random.Random(1234), so re-running with Faker 40.63.0 gives identical bytes
(another Faker version draws different values).

Entity offsets are BYTE offsets into the UTF-8 encoding of `text`; the script
asserts text.encode()[start:end].decode() == value for every entity, checks
Luhn / mod-97 / SSN area rules for every positive, and checks that every
near-miss negative fails the rule it imitates.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import re
from pathlib import Path

from faker import Faker

from common import OUT_DIR, write_jsonl

SEED = 1234
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"]
PER_TYPE = 160          # sentences whose main entity is of each type
SECOND_SHARE = 0.25     # share of sentences that carry a second entity
N_NEGATIVE = 240

Faker.seed(SEED)
FAKE = Faker(LOCALES)
RNG = random.Random(SEED)


# ---------------------------------------------------------------------------
# Validators
# ---------------------------------------------------------------------------

def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


IBAN_LEN = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24}


def ssn_ok(ssn: str) -> bool:
    m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", ssn)
    if not m:
        return False
    area, group, serial = (int(x) for x in m.groups())
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


# ---------------------------------------------------------------------------
# Entity generators: each returns (value, subtype)
# ---------------------------------------------------------------------------

def gen_email():
    f = FAKE[RNG.choice(LOCALES)]
    k = RNG.random()
    if k < 0.6:
        v = f.safe_email()
    elif k < 0.8:
        v = f"{f.first_name()}.{f.last_name()}".lower()
        v = re.sub(r"[^a-z.]", "", v.encode("ascii", "ignore").decode()) + "@" + f.safe_domain_name()
    else:
        v = f"{f.user_name()}+{RNG.choice(['invoices', 'hr', 'travel', 'noreply'])}@{f.safe_domain_name()}"
    return v, "address"


PHONE_QUOTA = {(loc, kind): 20 for loc in ["en_US", "en_GB", "de_DE", "fr_FR"]
               for kind in ["international", "national"]}
PHONE_POOL: list[tuple[str, str]] = []


def _fill_phone_pool():
    have = {k: 0 for k in PHONE_QUOTA}
    while any(have[k] < PHONE_QUOTA[k] for k in have):
        loc = RNG.choice(["en_US", "en_GB", "de_DE", "fr_FR"])
        v = re.sub(r"x\d+$", "", FAKE[loc].phone_number())
        intl = v.startswith("+") or v.startswith("001-")
        if loc == "de_DE" and not intl and not re.match(r"^\(?0[1-9]", v):
            continue  # Faker's de_DE national pattern can start with 00
        kind = "international" if intl else "national"
        if have[(loc, kind)] >= PHONE_QUOTA[(loc, kind)]:
            continue
        have[(loc, kind)] += 1
        PHONE_POOL.append((v, f"{loc}:{kind}"))
    RNG.shuffle(PHONE_POOL)


def gen_phone():
    if not PHONE_POOL:
        _fill_phone_pool()
    return PHONE_POOL.pop()


def gen_card():
    brand = RNG.choice(["visa", "mastercard", "amex"])
    n = FAKE["en_US"].credit_card_number("visa16" if brand == "visa" else brand)
    style = RNG.choice(["compact", "spaces", "dashes"])
    if style != "compact":
        sep = " " if style == "spaces" else "-"
        groups = [n[:4], n[4:10], n[10:]] if brand == "amex" else [n[i:i + 4] for i in range(0, 16, 4)]
        n = sep.join(groups)
    return n, f"{brand}:{style}"


def gen_iban():
    cc = RNG.choice(list(IBAN_LEN))
    loc = {"DE": "de_DE", "GB": "en_GB", "FR": "fr_FR", "NL": "nl_NL", "ES": "es_ES"}[cc]
    v = FAKE[loc].iban()
    assert v.startswith(cc) and len(v) == IBAN_LEN[cc], v
    style = RNG.choice(["compact", "grouped"])
    if style == "grouped":
        v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    return v, f"{cc}:{style}"


def gen_ssn():
    while True:
        v = FAKE["en_US"].ssn()
        if ssn_ok(v):
            return v, "area-group-serial"


def gen_ipv4():
    k = RNG.random()
    f = FAKE["en_US"]
    if k < 0.4:
        return f.ipv4_public(), "public"
    if k < 0.8:
        return f.ipv4_private(), "private"
    return f.ipv4(), "any"


def gen_ipv6():
    v = FAKE["en_US"].ipv6()
    if RNG.random() < 0.5:
        # compressed form with a zero run, e.g. 2001:db8:85a3::8a2e:370:7334
        parts = v.split(":")
        i = RNG.randrange(1, 6)
        parts[i] = parts[i + 1] = "0"
        v = ipaddress.IPv6Address(":".join(parts)).compressed
        return v, "compressed"
    return v, "full"


GEN = {"email": gen_email, "phone": gen_phone, "credit_card": gen_card, "iban": gen_iban,
       "us_ssn": gen_ssn, "ipv4": gen_ipv4, "ipv6": gen_ipv6}


def check_entity(t, v):
    if t == "credit_card":
        assert luhn_ok(v) and len(re.sub(r"\D", "", v)) in (15, 16), v
    elif t == "iban":
        assert iban_ok(v), v
    elif t == "us_ssn":
        assert ssn_ok(v), v
    elif t == "ipv4":
        ipaddress.IPv4Address(v)
    elif t == "ipv6":
        ipaddress.IPv6Address(v)
    elif t == "email":
        assert re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}", v), v
    elif t == "phone":
        assert len(re.sub(r"\D", "", v)) >= 9, v


# ---------------------------------------------------------------------------
# Sentence templates. {e} is the main entity, {e2} an optional second one;
# {name}, {company}, {city}, {inv}, {amount}, {date} are filler (unlabelled).
# ---------------------------------------------------------------------------

T = {
    "email": [
        "Please send the signed contract to {e} by {date}.",
        "{name} asked to be contacted at {e} about invoice {inv}.",
        "The new billing contact for {company} is {e}.",
        "Forward the travel receipts to {e}, she handles the {city} office.",
        "Bounce notice: delivery to {e} failed after 3 attempts.",
        "Kontakt für Rückfragen: {name}, {e}.",
        "Merci d'écrire à {e} pour toute question sur la facture {inv}.",
        "Add {e} to the distribution list for the Q3 renewal report.",
        "Customer {name} changed their login email to {e} yesterday.",
        "Escalation from {e}: the dashboard export keeps timing out.",
        "CC {e} on the reply so Finance sees the refund of {amount}.",
        "Our DPO received an access request from {e} on {date}.",
        "Reminder: {name} ({e}) starts on Monday in {city}.",
        "Unsubscribe request received from {e}.",
    ],
    "phone": [
        "Call {name} back on {e} before 5 pm.",
        "The supplier's hotline is {e}; ask for the accounts team.",
        "For urgent issues in {city}, dial {e}.",
        "Mobil erreichbar unter {e}, bitte nur werktags.",
        "Vous pouvez joindre {name} au {e}.",
        "Customer {company} left a voicemail from {e} about order {inv}.",
        "Update my emergency contact to {e}, please.",
        "The delivery driver's number is {e}.",
        "Missed call from {e} at 09:14 regarding the renewal.",
        "{name} will dial in from {e} for the QBR on {date}.",
        "Registered phone for 2FA recovery: {e}.",
        "Bitte rufen Sie {name} unter {e} zurück, es geht um Rechnung {inv}.",
        "Reception in {city} can be reached on {e}.",
    ],
    "credit_card": [
        "Please refund the card {e} used on invoice {inv}.",
        "The customer paid {amount} with card number {e}.",
        "Chargeback received for {e} on {date}.",
        "Corporate card {e} was reported lost by {name}.",
        "Die Kreditkarte {e} wurde am {date} belastet.",
        "La carte {e} a été refusée pour la commande {inv}.",
        "Update the subscription for {company} to bill {e} from next month.",
        "Hotel in {city} charged {amount} to {e}, please reconcile.",
        "{name} read out the card {e} over the phone — please delete the recording.",
        "Fraud alert: multiple attempts with {e} within 5 minutes.",
        "Expense claim {inv}: paid with {e}.",
    ],
    "iban": [
        "Please pay invoice {inv} to IBAN {e}.",
        "{company} changed their bank account to {e}; verify by call-back first.",
        "Salary account for {name}: {e}.",
        "Refund of {amount} goes to {e}.",
        "Bankverbindung: {e}, Kontoinhaber {name}.",
        "Veuillez virer {amount} sur le compte {e} avant le {date}.",
        "SEPA mandate for {company} references account {e}.",
        "The supplier master in Business Central still lists {e} for {company}.",
        "Por favor, transfiera {amount} a la cuenta {e}.",
        "Wire instructions: beneficiary {company}, IBAN {e}, reference {inv}.",
        "Return the deposit of {amount} to {name} at {e}.",
    ],
    "us_ssn": [
        "The W-4 for {name} lists SSN {e}.",
        "Background check submitted for {name}, SSN {e}.",
        "Please redact {e} from the scanned onboarding form.",
        "Payroll record {inv}: employee {name}, social security number {e}.",
        "Our US contractor's SSN is {e}; store it only in PeopleHub.",
        "Form 1099 for {company} contractor {name} ({e}) is ready.",
        "The benefits provider needs {e} to enrol {name}.",
        "SSN on file: {e}. Do not email this.",
        "I-9 verification for {name} used SSN {e} on {date}.",
        "Tax ID check failed for {e}; please ask {name} to confirm.",
    ],
    "ipv4": [
        "Failed logins for {name} came from {e}.",
        "Please add {e} to the firewall allow-list for {company}.",
        "The export job connects to the database at {e} on port 5432.",
        "Blocked IP {e} after 40 requests per second.",
        "Der VPN-Client von {name} meldet die Adresse {e}.",
        "L'adresse {e} a déclenché une alerte le {date}.",
        "Customer {company} will call the API only from {e}.",
        "Last seen: {e} ({city}) at 14:02 UTC.",
        "Set the DNS server to {e} on the branch router.",
        "Webhook deliveries to {e} have been failing since {date}.",
        "Suspicious download from {e} flagged in ticket {inv}.",
    ],
    "ipv6": [
        "Failed logins for {name} came from {e}.",
        "Allow-list {e} for {company}'s API integration.",
        "The load balancer answers on {e}.",
        "Blocked address {e} after repeated 429 responses.",
        "Der Server ist unter {e} erreichbar.",
        "L'adresse IPv6 {e} apparaît dans les journaux du {date}.",
        "Customer {company} connects from {e} only.",
        "Last seen from {e} in {city}.",
        "Ticket {inv}: webhook target {e} refused the connection.",
        "Please reverse-DNS {e} and report back.",
        "The office router in {city} was assigned {e}.",
    ],
}

# Templates holding two entities: {e} main, {e2} second.
T2 = [
    ("email", "phone", "Contact {name} at {e} or {e2}."),
    ("email", "phone", "New supplier contact: {e}, tel. {e2}."),
    ("iban", "email", "Bank details changed to {e}; confirmation sent to {e2}."),
    ("credit_card", "email", "Receipt for card {e} was emailed to {e2}."),
    ("ipv4", "email", "Login for {e2} from {e} was blocked."),
    ("ipv6", "email", "Session of {e2} started from {e}."),
    ("us_ssn", "phone", "Employee {name}, SSN {e}, phone {e2}."),
    ("phone", "email", "Rückruf unter {e}, oder per Mail an {e2}."),
    ("ipv4", "ipv6", "Dual-stack host: {e} and {e2}."),
    ("iban", "phone", "Verify {e} by calling the supplier on {e2}, the number we already hold."),
    ("credit_card", "phone", "Card {e} holder called from {e2} to dispute a charge."),
    ("email", "ipv4", "Password reset for {e} requested from {e2}."),
]


def filler(key: str) -> str:
    f = FAKE[RNG.choice(LOCALES)]
    if key == "name":
        return f.name()
    if key == "company":
        return f.company()
    if key == "city":
        return f.city()
    if key == "inv":
        return RNG.choice(["INV-", "R-", "PO-", "#"]) + f"{RNG.randint(2023, 2025)}-{RNG.randint(1000, 99999):05d}"
    if key == "amount":
        return RNG.choice(["€", "£", "$"]) + f"{RNG.randint(12, 48000):,}.{RNG.randint(0, 99):02d}"
    if key == "date":
        d = FAKE["en_US"].date_between_dates(
            __import__("datetime").date(2024, 1, 1), __import__("datetime").date(2025, 12, 31))
        return RNG.choice([d.strftime("%d %B %Y"), d.isoformat(), d.strftime("%d.%m.%Y")])
    raise KeyError(key)


def build(template: str, ents: dict[str, tuple[str, str, str]]):
    """Fill a template; ents maps slot -> (type, value, subtype). Returns the
    text and the entities with byte offsets."""
    out = b""
    entities = []
    pos = 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out += template[pos:m.start()].encode()
        slot = m.group(1)
        if slot in ents:
            t, v, sub = ents[slot]
            start = len(out)
            out += v.encode()
            entities.append({"type": t, "start": start, "end": len(out), "value": v, "subtype": sub})
        else:
            out += filler(slot).encode()
        pos = m.end()
    out += template[pos:].encode()
    text = out.decode()
    entities.sort(key=lambda e: e["start"])
    return text, entities


def positives() -> list[dict]:
    rows = []
    for t in GEN:
        twos = [x for x in T2 if x[0] == t]
        for i in range(PER_TYPE):
            v, sub = GEN[t]()
            check_entity(t, v)
            ents = {"e": (t, v, sub)}
            if twos and RNG.random() < SECOND_SHARE:
                _, t2, tpl = RNG.choice(twos)
                v2, sub2 = GEN[t2]()
                check_entity(t2, v2)
                ents["e2"] = (t2, v2, sub2)
            else:
                tpl = RNG.choice(T[t])
            text, entities = build(tpl, ents)
            rows.append({"id": f"pii-{t}-{i + 1:03d}", "text": text, "entities": entities, "near_miss": None})
    return rows


# ---------------------------------------------------------------------------
# Near-miss negatives
# ---------------------------------------------------------------------------

def luhn_fail_16():
    while True:
        n = "4" + "".join(str(RNG.randrange(10)) for _ in range(15))
        if not luhn_ok(n):
            return RNG.choice([n, " ".join(n[i:i + 4] for i in range(0, 16, 4)),
                               "-".join(n[i:i + 4] for i in range(0, 16, 4))])


def iban_fail():
    cc = RNG.choice(list(IBAN_LEN))
    loc = {"DE": "de_DE", "GB": "en_GB", "FR": "fr_FR", "NL": "nl_NL", "ES": "es_ES"}[cc]
    good = FAKE[loc].iban()
    while True:
        chk = f"{RNG.randrange(2, 99):02d}"
        bad = good[:2] + chk + good[4:]
        if not iban_ok(bad):
            break
    return RNG.choice([bad, " ".join(bad[i:i + 4] for i in range(0, len(bad), 4))])


def ssn_invalid():
    area = RNG.choice(["000", "666", str(RNG.randint(900, 999))])
    if RNG.random() < 0.25:
        return f"{RNG.randint(100, 665):03d}-00-{RNG.randint(1, 9999):04d}"
    return f"{area}-{RNG.randint(1, 99):02d}-{RNG.randint(1, 9999):04d}"


def n(a, b):
    return RNG.randint(a, b)


NEG = {
    "invoice_number": [
        lambda: f"Invoice INV-{n(2023, 2025)}-{n(100000, 999999)} is overdue by 14 days.",
        lambda: f"Rechnung Nr. {n(2023, 2025)}/{n(10000, 99999)} wurde storniert.",
        lambda: f"Facture n° FA-{n(10000000, 99999999)} réglée le 03/06/2025.",
        lambda: f"Please match credit note CN-{n(1000, 9999)}-{n(1000, 9999)}-{n(10, 99)} to the original invoice.",
    ],
    "order_id": [
        lambda: f"Order SO-{n(10000, 99999)}-DE shipped from the warehouse today.",
        lambda: f"Your order #{n(1000, 9999)}-{n(1000, 9999)}-{n(1000, 9999)} has been dispatched.",
        lambda: f"Ticket INS-SUP-{n(10000, 99999)} was closed by the support team.",
        lambda: f"Purchase order PO {n(4500000000, 4599999999)} was approved in ProcureFlow.",
    ],
    "date_time": [
        lambda: f"The change freeze starts on 2025-12-{n(10, 22)} at {n(10, 23)}:{n(10, 59)}:{n(10, 59)}.",
        lambda: f"Meeting moved to {n(10, 28)}.{n(10, 12)}.2025, 14:30.",
        lambda: f"Timestamp 2025-0{n(1, 9)}-{n(10, 28)}T{n(10, 23)}:{n(10, 59)}:{n(10, 59)}Z in the audit log.",
        lambda: f"Release window: {n(10, 28)}/0{n(1, 9)}/2025 between 06:00 and 08:00 CET.",
    ],
    "version_number": [
        lambda: f"Upgrade the agent to {n(10, 12)}.{n(0, 9)}.{n(0, 9)}.{n(1, 9)}-beta before Friday.",
        lambda: f"Insight {n(3, 4)}.{n(0, 9)}.{n(0, 9)} fixes the export bug.",
        lambda: f"Build v{n(1, 9)}.{n(10, 30)}.{n(0, 9)}.{n(1000, 9999)} failed the smoke tests.",
        lambda: f"The driver version {n(500, 599)}.{n(10, 99)}.{n(100, 999)}.{n(1000, 9999)} is on the blocklist.",
        lambda: f"OID 1.3.6.1.4.1.{n(100, 99999)}.{n(1, 9)} identifies our SNMP agent.",
    ],
    "luhn_fail_16_digits": [
        lambda: f"Shipment tracking number {luhn_fail_16()} is delayed at customs.",
        lambda: f"Reference {luhn_fail_16()} on the bank statement could not be matched.",
        lambda: f"Loyalty card {luhn_fail_16()} earned 120 points.",
    ],
    "iban_bad_checksum": [
        lambda: f"The IBAN {iban_fail()} was rejected: checksum invalid.",
        lambda: f"Typo in the form: {iban_fail()} does not validate, please ask the supplier again.",
        lambda: f"Test value {iban_fail()} (deliberately wrong check digits) for the import validator.",
    ],
    "ssn_invalid": [
        lambda: f"The sample form uses the placeholder {ssn_invalid()}, which is not a valid SSN.",
        lambda: f"Validator test: {ssn_invalid()} must be rejected.",
        lambda: f"Part number {ssn_invalid()} is out of stock.",
    ],
    "phone_like_code": [
        lambda: f"Order part NW-{n(100, 999)}-{n(1000, 9999)}-{n(10, 99)} for the printer.",
        lambda: f"Article {n(100, 999)}-{n(100, 999)}-{n(1000, 9999)}-X is discontinued.",
        lambda: f"Licence key group {n(1000, 9999)}-{n(1000, 9999)}-{n(1000, 9999)} covers 25 seats.",
        lambda: f"Room booking code {n(10, 99)}.{n(100, 999)}.{n(100, 999)} for the Leeds office.",
    ],
    "ip_like": [
        lambda: f"Section {n(1, 9)}.{n(1, 9)}.{n(1, 9)} of the runbook covers failover.",
        lambda: f"The value {n(256, 999)}.{n(0, 255)}.{n(0, 255)}.{n(0, 255)} is not a valid address, check the config.",
        lambda: f"Use std::collections::HashMap and std::vec::Vec in the Rust client.",
        lambda: f"Device MAC {n(10, 99)}:{n(10, 99)}:{n(10, 99)}:{n(10, 99)}:{n(10, 99)}:{n(10, 99)} is not registered.",
        lambda: f"The job ran for {n(10, 23)}:{n(10, 59)}:{n(10, 59)} and then stopped.",
    ],
    "email_like": [
        lambda: f"Ping @channel about the outage in #ops-{n(1, 9)}.",
        lambda: f"Upload logo@2x.png and logo@3x.png to the brand folder.",
        lambda: f"Buy {n(2, 9)} licences @ €{n(10, 99)}.50 each.",
        lambda: f"Mention @{FAKE['en_US'].user_name()} in the merge request.",
    ],
    "masked_or_partial": [
        lambda: f"The card ending {n(1000, 9999)} was charged {n(20, 900)}.00 EUR.",
        lambda: f"Card **** **** **** {n(1000, 9999)} expires next month.",
        lambda: f"IBAN ending …{n(1000, 9999)} is on file for the supplier.",
        lambda: f"SSN last four digits: {n(1000, 9999)}.",
    ],
    "plain_numbers": [
        lambda: f"Revenue reached €{n(1, 9)},{n(100, 999)},{n(100, 999)}.{n(10, 99)} in Q2.",
        lambda: f"We processed {n(100000000, 999999999)} events last month.",
        lambda: f"Employee count: {n(150, 200)}; open positions: {n(3, 20)}.",
        lambda: f"The export contains {n(1000, 9999)} rows and {n(10, 99)} columns.",
    ],
}


def negatives() -> list[dict]:
    rows = []
    kinds = list(NEG)
    i = 0
    seen = set()
    while len(rows) < N_NEGATIVE:
        kind = kinds[i % len(kinds)]
        i += 1
        text = RNG.choice(NEG[kind])()
        if text in seen:
            continue
        seen.add(text)
        rows.append({"id": f"pii-neg-{len(rows) + 1:03d}", "text": text, "entities": [], "near_miss": kind})
    return rows


def self_check_negative(r):
    """Near-misses must fail the check they imitate (digits inside an IBAN
    can pass Luhn by chance; that is not a card number)."""
    if r["near_miss"] != "iban_bad_checksum":
        for m in re.finditer(r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b", r["text"]):
            assert not luhn_ok(m.group()), r
    for m in re.finditer(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b", r["text"]):
        assert not iban_ok(m.group()), r
    for m in re.finditer(r"\b\d{3}-\d{2}-\d{4}\b", r["text"]):
        assert not ssn_ok(m.group()), r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args()

    rows = positives() + negatives()
    for r in rows:
        b = r["text"].encode("utf-8")
        for e in r["entities"]:
            assert b[e["start"]:e["end"]].decode("utf-8") == e["value"], (r["id"], e)
            check_entity(e["type"], e["value"])
        if not r["entities"]:
            self_check_negative(r)
    write_jsonl(args.out / "pii.jsonl", rows)


if __name__ == "__main__":
    main()
