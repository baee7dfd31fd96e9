//! Structured personal data and secrets: found by pattern, confirmed by
//! checksum or shape (Luhn for cards, mod-97 for IBANs, valid ranges for SSNs
//! and IP addresses, entropy for generic tokens) so that order numbers,
//! versions and dates are not mistaken for them.

use std::net::Ipv6Addr;
use std::sync::OnceLock;

use regex::Regex;

/// One piece of sensitive data found in a text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

struct Patterns {
    email: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
    ipv4: Regex,
    ipv6: Regex,
    phone: Regex,
    secrets: Vec<(&'static str, Regex)>,
    assignment: Regex,
    token: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |pattern: &str| Regex::new(pattern).expect("built-in pattern compiles");
        Patterns {
            email: re(r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,24}\b"),
            card: re(r"\b\d(?:[ -]?\d){12,18}\b"),
            iban: re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
            ssn: re(r"\b\d{3}-\d{2}-\d{4}\b"),
            ipv4: re(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"),
            ipv6: re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"),
            phone: re(r"(?:\+|\b00)?\(?\d[\d\s().\-/]{5,}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?"),
            secrets: vec![
                ("aws_access_key", re(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")),
                ("github_token", re(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
                ("slack_token", re(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
                ("stripe_key", re(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
                ("google_api_key", re(r"\bAIza[0-9A-Za-z_-]{35}\b")),
                ("private_key", re(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\z)")),
                ("jwt", re(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
            ],
            assignment: re(r#"(?i)(?:\b|_)(?:password|passwd|pwd|passphrase|secret|api[_ -]?key|access[_ -]?key|auth[_ -]?token|token|credentials?)\b["']?\s*(?:is|was|=|:|:=|->)\s*["'`]?([^\s"'`,;]{4,})"#),
            token: re(r"[A-Za-z0-9+/_=-]{20,}"),
        }
    })
}

/// Personal data: emails, phone numbers, payment cards, IBANs, US SSNs, IPs.
pub fn find_pii(text: &str) -> Vec<Finding> {
    let p = patterns();
    let mut found = Vec::new();
    const FILE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "zip"];
    for m in p.email.find_iter(text) {
        let tld = m
            .as_str()
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !FILE_EXTENSIONS.contains(&tld.as_str()) {
            found.push(finding("email", m.start(), m.end()));
        }
    }
    // IBAN-shaped strings that fail the checksum are nobody's card or phone.
    let mut not_data = Vec::new();
    for m in p.iban.find_iter(text) {
        if iban_valid(m.as_str()) {
            found.push(finding("iban", m.start(), m.end()));
        } else {
            not_data.push(finding("iban_shaped", m.start(), m.end()));
        }
    }
    for m in p.card.find_iter(text) {
        let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
        if card_valid(&digits)
            && whole_number_run(text, m.start(), m.end())
            && !overlaps(&found, m.start(), m.end())
            && !overlaps(&not_data, m.start(), m.end())
        {
            found.push(finding("credit_card", m.start(), m.end()));
        }
    }
    for m in p.ssn.find_iter(text) {
        if ssn_valid(m.as_str()) && !overlaps(&found, m.start(), m.end()) {
            found.push(finding("us_ssn", m.start(), m.end()));
        }
    }
    for m in p.ipv4.find_iter(text) {
        let standalone = !touches(text, m.start(), m.end(), |c| {
            c == '.' || c == '-' || c.is_alphanumeric()
        });
        if standalone && m.as_str().split('.').all(|part| part.parse::<u8>().is_ok()) {
            found.push(finding("ipv4", m.start(), m.end()));
        }
    }
    for m in p.ipv6.find_iter(text) {
        let candidate = m.as_str().trim_end_matches(':');
        let shaped = candidate.contains("::") || candidate.matches(':').count() == 7;
        let end = m.start() + candidate.len();
        if shaped
            && candidate.parse::<Ipv6Addr>().is_ok()
            && !touches(text, m.start(), end, |c| c.is_alphanumeric())
        {
            found.push(finding("ipv6", m.start(), end));
        }
    }
    for m in p.phone.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let glued = text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '#' | '/' | '_'));
        let context = before(text, start, 30).to_ascii_lowercase();
        let keyword = [
            "call", "phone", "tel", "mobile", "cell", "fax", "dial", "reach", "number", "contact",
            "text", "ring", "whatsapp", "hotline",
        ]
        .iter()
        .any(|word| context.contains(word));
        let mut after = text[end..].chars();
        let glued_after = match after.next() {
            Some('-') | Some('/') => after.next().is_some_and(char::is_alphanumeric),
            Some(c) => c.is_alphanumeric(),
            None => false,
        };
        if glued
            || glued_after
            || overlaps(&found, start, end)
            || overlaps(&not_data, start, end)
            || !phone_like(m.as_str(), keyword)
        {
            continue;
        }
        found.push(finding("phone", start, end));
    }
    found.sort_by_key(|f| (f.start, f.end));
    found
}

/// Secrets: cloud keys, tokens, private keys, JWTs, passwords written out,
/// and long random strings next to words like "key" or "token".
pub fn find_secrets(text: &str) -> Vec<Finding> {
    let p = patterns();
    let mut found = Vec::new();
    for (kind, pattern) in &p.secrets {
        for m in pattern.find_iter(text) {
            if !overlaps(&found, m.start(), m.end()) {
                found.push(finding(kind, m.start(), m.end()));
            }
        }
    }
    for captures in p.assignment.captures_iter(text) {
        let Some(value) = captures.get(1) else {
            continue;
        };
        let v = value.as_str().trim_end_matches(['.', ')', ']']);
        let secret_like = v.chars().any(|c| c.is_ascii_digit())
            || v.chars().any(|c| !c.is_alphanumeric())
            || (v.len() >= 12
                && v.chars().any(char::is_uppercase)
                && v.chars().any(char::is_lowercase));
        if secret_like && !overlaps(&found, value.start(), value.start() + v.len()) {
            found.push(finding("password", value.start(), value.start() + v.len()));
        }
    }
    let lower = text.to_ascii_lowercase();
    for m in p.token.find_iter(text) {
        let token = m.as_str();
        if overlaps(&found, m.start(), m.end()) || entropy(token) < 3.5 {
            continue;
        }
        let has_digit = token.chars().any(|c| c.is_ascii_digit());
        let has_alpha = token.chars().any(|c| c.is_ascii_alphabetic());
        let window = before(&lower, m.start(), 40);
        let near_secret_word = [
            "key",
            "token",
            "secret",
            "password",
            "credential",
            "bearer",
            "auth",
        ]
        .iter()
        .any(|word| window.contains(word));
        if has_digit && has_alpha && near_secret_word {
            found.push(finding("high_entropy_secret", m.start(), m.end()));
        }
    }
    found.sort_by_key(|f| (f.start, f.end));
    found
}

/// True when the digits at `start..end` are the whole run of digits, spaces
/// and dashes around them, and that run is not glued to letters: a card
/// number inside a longer reference or an IBAN is not a card number.
fn whole_number_run(text: &str, start: usize, end: usize) -> bool {
    let in_run = |c: char| c.is_ascii_digit() || c == ' ' || c == '-';
    let before = &text[..start];
    let run_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| in_run(*c))
        .last()
        .map_or(start, |(i, _)| i);
    let after = &text[end..];
    let run_end = end
        + after
            .char_indices()
            .take_while(|(_, c)| in_run(*c))
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).count();
    let run_start = run_start
        + (text[run_start..start].len()
            - text[run_start..start].trim_start_matches([' ', '-']).len());
    let glued = text[..run_start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric);
    digits(&text[run_start..run_end]) == digits(&text[start..end]) && !glued
}

/// Up to `bytes` bytes of `text` just before `at`, cut at a character boundary.
fn before(text: &str, at: usize, bytes: usize) -> &str {
    let mut from = at.saturating_sub(bytes);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..at]
}

fn finding(kind: &'static str, start: usize, end: usize) -> Finding {
    Finding { kind, start, end }
}

fn overlaps(found: &[Finding], start: usize, end: usize) -> bool {
    found.iter().any(|f| f.start < end && start < f.end)
}

/// Whether the characters right before `start` or after `end` satisfy `joined`.
fn touches(text: &str, start: usize, end: usize, joined: impl Fn(char) -> bool) -> bool {
    let before = text[..start].chars().next_back().is_some_and(&joined);
    // A sentence-ending full stop after the match does not join it.
    let mut after = text[end..].chars();
    let next = after.next();
    let after_joins = match next {
        Some('.') => after.next().is_some_and(|c| c.is_alphanumeric()),
        Some(c) => joined(c),
        None => false,
    };
    before || after_joins
}

/// The Luhn checksum, with a known card prefix and length.
pub fn card_valid(digits: &str) -> bool {
    let len = digits.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let prefix2: u32 = digits[..2].parse().unwrap_or(0);
    let prefix4: u32 = digits[..4].parse().unwrap_or(0);
    let known = digits.starts_with('4')
        || (51..=55).contains(&prefix2)
        || (2221..=2720).contains(&prefix4)
        || prefix2 == 34
        || prefix2 == 37
        || prefix4 == 6011
        || prefix2 == 65
        || prefix2 == 35
        || prefix2 == 36
        || prefix2 == 30
        || prefix2 == 38;
    if !known {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616: length 15–34 and the mod-97 check.
pub fn iban_valid(candidate: &str) -> bool {
    let compact: String = candidate.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        for digit in value.to_string().chars() {
            remainder = (remainder * 10 + (digit as u32 - '0' as u32)) % 97;
        }
    }
    remainder == 1
}

/// Area 001–899 except 666, group 01–99, serial 0001–9999.
fn ssn_valid(candidate: &str) -> bool {
    let parts: Vec<u32> = candidate
        .split('-')
        .filter_map(|p| p.parse().ok())
        .collect();
    matches!(parts.as_slice(), [area, group, serial]
        if (1..900).contains(area) && *area != 666 && *group > 0 && *serial > 0)
}

/// A run of digits and separators that reads as a phone number: 7–15 digits,
/// in a shape phones are written in (international prefix, a bracketed area
/// code, US 3-3-4, national numbers starting with 0), or any grouping when a
/// word like "call" or "phone" comes just before; never a date, a version or
/// an SSN.
fn phone_like(candidate: &str, keyword: bool) -> bool {
    let main = candidate
        .split(['x', 'e'])
        .next()
        .unwrap_or(candidate)
        .trim();
    let digits = main.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let separators = main
        .chars()
        .filter(|c| matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .count();
    let international = main.starts_with('+') || main.starts_with("00");
    let looks_like_date = main.len() == 10
        && main.chars().filter(|c| *c == '-' || *c == '/').count() == 2
        && (main.as_bytes()[4] == b'-' || main.as_bytes()[2] == b'/');
    let groups: Vec<usize> = main
        .split(|c: char| !c.is_ascii_digit())
        .filter(|group| !group.is_empty())
        .map(str::len)
        .collect();
    let us_shape = groups == [3, 3, 4];
    let dotted_version = main.contains('.')
        && !us_shape
        && !main.contains(' ')
        && !main.contains('-')
        && !main.contains('(');
    let ssn_shape = main.len() == 11
        && main.as_bytes()[3] == b'-'
        && main.as_bytes()[6] == b'-'
        && main.chars().filter(char::is_ascii_digit).count() == 9;
    if looks_like_date || dotted_version || ssn_shape {
        return false;
    }
    let national = main.starts_with('0') && (10..=11).contains(&digits);
    international
        || main.starts_with('(')
        || us_shape
        || national
        || (separators >= 1 && main.starts_with('0'))
        || (keyword && (separators >= 1 || digits >= 10))
}

/// Shannon entropy in bits per character.
fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in text.bytes() {
        counts[b as usize] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// `text` with every piece of personal data and every secret replaced by
/// `[redacted <kind>]`: what may be kept where raw PII may not (the audit log).
pub fn redact(text: &str) -> String {
    let mut findings = find_pii(text);
    findings.extend(find_secrets(text));
    findings.sort_by_key(|finding| (finding.start, std::cmp::Reverse(finding.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for finding in findings {
        if finding.start < at {
            at = at.max(finding.end);
            continue;
        }
        out.push_str(&text[at..finding.start]);
        out.push_str(&format!("[redacted {}]", finding.kind));
        at = finding.end;
    }
    out.push_str(&text[at.min(text.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        find_pii(text).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn checksums_separate_data_from_lookalikes() {
        assert_eq!(
            kinds("Refund card 4111 1111 1111 1111 please."),
            ["credit_card"]
        );
        assert!(kinds("Order 4111 1111 1111 1112 shipped.").is_empty());
        assert_eq!(
            kinds("IBAN DE89 3704 0044 0532 0130 00 for payroll"),
            ["iban"]
        );
        assert_eq!(
            kinds("Ref DE89 3704 0044 0532 0130 01 closed"),
            Vec::<&str>::new()
        );
        assert_eq!(kinds("SSN 123-45-6789"), ["us_ssn"]);
        assert!(kinds("SSN 666-45-6789").is_empty());
        assert_eq!(kinds("Server 192.168.1.20 is down."), ["ipv4"]);
        assert!(kinds("Release 10.2.3.4-beta is out").is_empty());
        assert_eq!(
            kinds("Write to anna.berg@northwind.example today"),
            ["email"]
        );
        assert_eq!(kinds("Call +44 20 7946 0958 now"), ["phone"]);
        assert!(kinds("Invoice 2024-05-17 was paid").is_empty());
    }

    #[test]
    fn secrets_need_shape_not_just_a_keyword() {
        let kinds = |text: &str| -> Vec<&'static str> {
            find_secrets(text).into_iter().map(|f| f.kind).collect()
        };
        assert_eq!(kinds("key AKIAIOSFODNN7EXAMPLE"), ["aws_access_key"]);
        assert_eq!(kinds("password: hunter2"), ["password"]);
        assert!(kinds("The password policy requires 12 characters.").is_empty());
        assert!(kinds("The password is required at login.").is_empty());
    }
}
