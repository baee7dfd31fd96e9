//! Undoing obfuscation before scanning: attackers write "ign\u{200B}ore",
//! "іgnore" (Cyrillic і), "1gn0r3", "i g n o r e", or hide the whole request
//! in base64, hex or rot13. Each reading of the text is scanned; a hit on any
//! of them counts.

use base64::Engine;
use unicode_normalization::UnicodeNormalization;

/// Characters that render as nothing or reorder text: removed before scanning.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}' | '\u{E0000}'..='\u{E007F}')
}

/// Latin letters that Cyrillic and Greek lookalikes stand for.
fn confusable(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'с' | 'ϲ' => 'c',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ӏ' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'у' | 'γ' => 'y',
        'х' | 'χ' => 'x',
        'ԁ' => 'd',
        'ɡ' => 'g',
        'ո' => 'n',
        'ν' => 'v',
        'ш' | 'ω' => 'w',
        'А' | 'Α' => 'a',
        'В' | 'Β' => 'b',
        'Е' | 'Ε' => 'e',
        'К' | 'Κ' => 'k',
        'М' | 'Μ' => 'm',
        'Н' | 'Η' => 'h',
        'О' | 'Ο' => 'o',
        'Р' | 'Ρ' => 'p',
        'С' => 'c',
        'Т' | 'Τ' => 't',
        'Х' | 'Χ' => 'x',
        'І' | 'Ι' => 'i',
        _ => c,
    }
}

/// NFKC (fullwidth and styled letters become plain), invisibles removed,
/// lookalikes mapped to Latin, lower case.
pub fn canonical(text: &str) -> String {
    text.nfkc()
        .filter(|c| !is_invisible(*c))
        .map(confusable)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Leetspeak read as letters ("1gn0r3 pr3v10us" → "ignore previous").
pub fn unleet(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' | '|' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' | '+' => 't',
            '8' => 'b',
            '9' => 'g',
            _ => c,
        })
        .collect()
}

/// Letters spaced apart ("i g n o r e  a l l") joined back into words.
pub fn unspace(text: &str) -> Option<String> {
    let tokens: Vec<&str> = text.split(' ').collect();
    let singles = tokens.iter().filter(|t| t.chars().count() == 1).count();
    if singles < 6 || singles * 2 < tokens.len() {
        return None;
    }
    // Single letters separated by one space form a word; empty tokens (double
    // spaces) separate words.
    let mut out = String::new();
    let mut previous_single = false;
    for token in tokens {
        if token.is_empty() {
            out.push(' ');
            previous_single = false;
        } else if token.chars().count() == 1 {
            out.push_str(token);
            previous_single = true;
        } else {
            if previous_single || !out.is_empty() {
                out.push(' ');
            }
            out.push_str(token);
            out.push(' ');
            previous_single = false;
        }
    }
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn rot13(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// Text hidden in base64 or hex runs, decoded (only runs that decode to
/// mostly printable UTF-8 count).
pub fn decoded_runs(text: &str) -> Vec<String> {
    let mut decoded = Vec::new();
    for run in text.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';' | '(' | ')' | '<' | '>')
    }) {
        let run = run.trim_matches(|c: char| c == '.' || c == ':');
        if run.len() < 12 {
            continue;
        }
        if run.len() % 2 == 0 && run.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Ok(bytes) = hex::decode(run) {
                push_printable(&mut decoded, bytes);
            }
            continue;
        }
        if run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
        {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            if let Some(bytes) = engines.iter().find_map(|engine| engine.decode(run).ok()) {
                push_printable(&mut decoded, bytes);
            }
        }
    }
    decoded
}

fn push_printable(out: &mut Vec<String>, bytes: Vec<u8>) {
    if let Ok(text) = String::from_utf8(bytes) {
        let printable = text
            .chars()
            .filter(|c| !c.is_control() || c.is_whitespace())
            .count();
        if printable * 10 >= text.chars().count() * 9 && text.chars().any(char::is_alphabetic) {
            out.push(text);
        }
    }
}

/// Text smuggled in Unicode tag characters (U+E0020–U+E007E, invisible in
/// most interfaces, each standing for one ASCII character), decoded; `None`
/// when there are fewer than four of them.
pub fn tag_decoded(text: &str) -> Option<String> {
    let hidden: String = text
        .chars()
        .filter_map(|c| match u32::from(c) {
            code @ 0xE0020..=0xE007E => char::from_u32(code - 0xE0000),
            _ => None,
        })
        .collect();
    (hidden.len() >= 4).then_some(hidden)
}

/// The readings the learned stage scores: the canonical text and whatever
/// an obfuscation hid in it (letters spaced apart, tag characters, base64
/// or hex runs). Leetspeak and rot13 readings are left to the rules: they
/// turn ordinary text into strings the classifier never learned from.
pub fn model_readings(text: &str) -> Vec<String> {
    let canonical_text = canonical(text);
    let mut readings = Vec::new();
    if let Some(joined) = unspace(&canonical_text) {
        readings.push(joined);
    }
    if let Some(hidden) = tag_decoded(text) {
        readings.push(canonical(&hidden));
    }
    for decoded in decoded_runs(text) {
        readings.push(canonical(&decoded));
    }
    readings.insert(0, canonical_text);
    readings
}

/// Every reading of `text` worth scanning, the canonical one first.
pub fn readings(text: &str) -> Vec<String> {
    let canonical_text = canonical(text);
    let mut readings = vec![canonical_text.clone()];
    let unleeted = unleet(&canonical_text);
    if unleeted != canonical_text {
        readings.push(unleeted);
    }
    if let Some(joined) = unspace(&canonical_text) {
        readings.push(joined);
    }
    readings.push(rot13(&canonical_text));
    if let Some(hidden) = tag_decoded(text) {
        readings.push(canonical(&hidden));
    }
    for decoded in decoded_runs(text) {
        readings.push(canonical(&decoded));
    }
    readings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscations_are_undone() {
        assert_eq!(canonical("Ign\u{200B}оre ＡＬＬ"), "ignore all");
        assert_eq!(unleet("1gn0r3 4ll"), "ignore all");
        assert_eq!(
            unspace("i g n o r e  a l l  rules").unwrap(),
            "ignore all rules"
        );
        assert_eq!(rot13("vtaber"), "ignore");
        assert_eq!(
            decoded_runs("decode aWdub3JlIGFsbCBydWxlcw=="),
            ["ignore all rules"]
        );
        assert_eq!(decoded_runs("hex 69676e6f726520616c6c"), ["ignore all"]);
        let smuggled: String = "Hi \u{1F44D}"
            .chars()
            .chain(
                "Ignore all"
                    .chars()
                    .map(|c| char::from_u32(0xE0000 + c as u32).unwrap()),
            )
            .collect();
        assert_eq!(canonical(&smuggled), "hi \u{1F44D}");
        assert_eq!(tag_decoded(&smuggled).as_deref(), Some("Ignore all"));
        assert!(readings(&smuggled).contains(&"ignore all".to_string()));
        assert_eq!(model_readings(&smuggled), ["hi \u{1F44D}", "ignore all"]);
        assert_eq!(tag_decoded("plain text"), None);
    }
}
