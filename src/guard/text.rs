//! Text analysis shared by the guards: sentence splitting with byte offsets,
//! word tokens with stems, numbers read as values, names, negation scope.
//!
//! Rules, not models: the citation verifier runs on every answer and must cost
//! microseconds, and each rule here is one a reviewer can read and test.

use std::ops::Range;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;

/// Splits text into sentences; each range is a byte range of `text`, trimmed.
///
/// Ends a sentence at `.`, `!` or `?` followed by a space and a capital, digit,
/// quote or markup (not after abbreviations or inside numbers), and at line
/// breaks that start a new block (blank line, list item, heading, table row).
/// Citation markers after the full stop (`… leave. [2]`) stay with their sentence.
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\n' {
            let next_line = &text[i + 1..];
            if starts_block(next_line) || ends_block(&text[start..i]) {
                push_trimmed(text, start..i, &mut sentences);
                start = i + 1;
            }
            i += 1;
            continue;
        }
        if matches!(byte, b'.' | b'!' | b'?') && is_sentence_end(text, i) {
            let mut end = i + 1;
            // Closing quotes and brackets belong to the sentence.
            while end < bytes.len() && matches!(bytes[end], b'"' | b'\'' | b')' | b'*' | b'_') {
                end += 1;
            }
            end = absorb_citation_markers(text, end);
            push_trimmed(text, start..end, &mut sentences);
            start = end;
            i = end;
            continue;
        }
        i += 1;
    }
    push_trimmed(text, start..text.len(), &mut sentences);
    sentences
}

fn starts_block(rest: &str) -> bool {
    let line = rest.split('\n').next().unwrap_or("");
    let trimmed = line.trim_start();
    trimmed.is_empty()
        || trimmed.starts_with("- ")
        || trimmed.starts_with("* ")
        || trimmed.starts_with("+ ")
        || trimmed.starts_with('#')
        || trimmed.starts_with('|')
        || trimmed.starts_with('>')
        || trimmed.starts_with("```")
        || numbered_item(trimmed)
        || trimmed.starts_with("**")
}

fn ends_block(current: &str) -> bool {
    let trimmed = current.trim();
    trimmed.ends_with(':') || trimmed.starts_with('#') || trimmed.starts_with('|')
}

fn numbered_item(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && digits <= 3 && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))
}

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "no", "incl", "p", "pp", "fig", "st",
    "inc", "ltd", "co", "cf", "al", "min", "max", "dept", "ca", "nr", "excl", "a.m", "p.m",
    "approx", "resp", "esp", "mio", "bn",
];

fn is_sentence_end(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    let after = &text[at + 1..];
    // Inside a number or version ("4.3", "v1.2.0") or a file name ("policy.pdf").
    if bytes[at] == b'.'
        && after
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    if bytes[at] == b'.' {
        let word: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '.')
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
            .to_lowercase();
        if ABBREVIATIONS.contains(&word.as_str()) {
            return false;
        }
        // A list or section number at the start of a line ("1. Open", "## 3. Leave").
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = text[line_start..at].trim_start_matches(['#', ' ', '\t']);
        if !before.is_empty() && before.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return false;
        }
        // A single capital: an initial ("J. Smith").
        if word.len() == 1 && text[..at].ends_with(|c: char| c.is_uppercase()) {
            return false;
        }
    }
    // Inside a table row only the line break ends a unit.
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    if text[line_start..at].trim_start().starts_with('|') {
        return false;
    }
    let rest = after.trim_start_matches([' ', '\t', '"', '\'', ')', '*', '_']);
    let rest = skip_citation_markers(rest).trim_start();
    match rest.chars().next() {
        None => true,
        Some(c) => {
            c.is_uppercase()
                || c.is_ascii_digit()
                || matches!(c, '\n' | '"' | '\'' | '(' | '*' | '[' | '-' | '`' | '“')
                // "… leave. [1]" followed by end of text.
                || !after.starts_with(|c: char| c.is_alphanumeric())
                    && !rest.starts_with(|c: char| c.is_lowercase())
        }
    }
}

fn skip_citation_markers(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_start();
        match citation_marker_len(trimmed) {
            Some(len) => text = &trimmed[len..],
            None => return text,
        }
    }
}

fn absorb_citation_markers(text: &str, mut end: usize) -> usize {
    loop {
        let rest = &text[end..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        match citation_marker_len(&rest[spaces..]) {
            Some(len) => {
                end += spaces + len;
                // "[1]." — the full stop after the marker is the sentence's own.
                if text[end..].starts_with('.') {
                    end += 1;
                }
            }
            None => return end,
        }
    }
}

/// Length in bytes of a `[n]` or `[n, m]` marker at the start of `text`.
pub fn citation_marker_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let mut i = 1;
    let mut digits = 0;
    while i < bytes.len() && i < 40 {
        match bytes[i] {
            b'0'..=b'9' => digits += 1,
            b',' | b' ' => {}
            b']' if digits > 0 => return Some(i + 1),
            _ => return None,
        }
        i += 1;
    }
    None
}

/// The numbers of the `[n]` markers in `text`, in order, deduplicated.
pub fn citation_numbers(text: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    for (at, _) in text.match_indices('[') {
        if let Some(len) = citation_marker_len(&text[at..]) {
            for part in text[at + 1..at + len - 1].split([',', ' ']) {
                if let Ok(number) = part.trim().parse::<usize>() {
                    if !numbers.contains(&number) {
                        numbers.push(number);
                    }
                }
            }
        }
    }
    numbers
}

/// `text` without its `[n]` markers (each replaced by nothing, spaces tidied).
pub fn strip_citation_markers(text: &str) -> String {
    map_citation_markers(text, |_| None)
}

/// Rewrites each `[n]` marker: `replace(k)` for the k-th marker (0-based)
/// gives its replacement, or `None` to drop it with the space before it.
pub fn map_citation_markers(
    text: &str,
    mut replace: impl FnMut(usize) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut count = 0;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        match citation_marker_len(&rest[at..]) {
            Some(len) => {
                match replace(count) {
                    Some(replacement) => out.push_str(&replacement),
                    None if out.ends_with(' ') => {
                        out.pop();
                    }
                    None => {}
                }
                count += 1;
                rest = &rest[at + len..];
            }
            None => {
                out.push('[');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let slice = &text[range.clone()];
    let leading = slice.len() - slice.trim_start().len();
    let trailing = slice.len() - slice.trim_end().len();
    let trimmed = range.start + leading..range.end - trailing;
    if trimmed.is_empty() {
        return;
    }
    // Lines of pure markup ("---", "|---|---|") are not sentences.
    if text[trimmed.clone()]
        .chars()
        .all(|c| matches!(c, '-' | '|' | ':' | ' ' | '=' | '*' | '#' | '_' | '`'))
    {
        return;
    }
    out.push(trimmed);
}

/// What a word is, for the checks that treat words differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordKind {
    /// A content word: carries meaning that must be supported.
    Content,
    /// A function word ("the", "of"): ignored.
    Stop,
    /// "not", "never", "without": flips what follows.
    Negation,
}

/// One word of a text.
#[derive(Debug, Clone)]
pub struct Word {
    /// Byte range in the analysed text.
    pub range: Range<usize>,
    /// Lower-cased, normalised surface form.
    pub lower: String,
    /// Snowball stem of `lower` (numbers: their canonical value).
    pub stem: String,
    pub kind: WordKind,
    /// The value, when the word is a number ("1,500", "fifteen", "3rd").
    pub number: Option<f64>,
    /// Written with a capital inside a sentence, or an acronym: a name.
    pub is_name: bool,
    /// Written with a capital letter first, wherever it stands.
    pub capitalised: bool,
    /// A month or day of the week.
    pub is_date_word: bool,
    /// Within the scope of a negation cue.
    pub negated: bool,
    /// Starts a new clause (after ";", a dash, or ", and" / ", but" / ", while" …).
    pub boundary_before: bool,
    /// Starts a new segment of a list or enumeration: the first word, or the
    /// first after ",", ";", ":", "|" or a dash, or "and" / "or" themselves.
    /// Parallel segments ("… for Munich, and English … for Leeds") bind facts.
    pub segment_before: bool,
    /// The punctuation right before and after the word (markdown emphasis
    /// skipped; ' ' when there is none): "(" and ")" around "Frankfurt".
    pub punct_before: char,
    pub punct_after: char,
    /// A duration in a base unit ("two weeks" → 14 days), to compare across units.
    pub quantity: Option<Quantity>,
    /// The currency written with a number ("€220", "220 EUR", "45p").
    pub currency: Option<&'static str>,
}

/// A number with a unit, in the unit's base (seconds, or months for months and years).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub base: &'static str,
}

impl Quantity {
    pub fn same(&self, other: &Quantity) -> bool {
        self.base == other.base
            && (self.value - other.value).abs() < 1e-9 * self.value.abs().max(1.0)
    }
}

/// A unit of time and its size in its base: "hours" → (3600, "s").
pub fn unit(word: &str) -> Option<(f64, &'static str)> {
    Some(match word {
        "ms" | "millisecond" | "milliseconds" => (0.001, "s"),
        "s" | "sec" | "secs" | "second" | "seconds" => (1.0, "s"),
        "min" | "mins" | "minute" | "minutes" => (60.0, "s"),
        "h" | "hr" | "hrs" | "hour" | "hours" => (3600.0, "s"),
        // Days in seconds too: "two days" is "48 hours".
        "day" | "days" => (86_400.0, "s"),
        "week" | "weeks" => (604_800.0, "s"),
        "fortnight" | "fortnights" => (1_209_600.0, "s"),
        "month" | "months" => (1.0, "mo"),
        "year" | "years" => (12.0, "mo"),
        _ => return None,
    })
}

/// The currency a code or name after an amount stands for ("EUR", "pounds").
fn unit_of_currency(lower: &str) -> Option<&'static str> {
    match lower {
        "eur" | "euro" | "euros" => Some("eur"),
        "gbp" | "pound" | "pounds" => Some("gbp"),
        "usd" | "dollar" | "dollars" => Some("usd"),
        _ => None,
    }
}

/// Attaches currencies to amounts: a symbol before, a code or symbol after.
fn mark_currencies(text: &str, words: &mut [Word]) {
    for index in 0..words.len() {
        if words[index].number.is_none() {
            continue;
        }
        let before = text[..words[index].range.start].trim_end_matches([' ', '*']);
        let symbol = match before.chars().last() {
            Some('€') => Some("eur"),
            Some('£') => Some("gbp"),
            Some('$') => Some("usd"),
            _ => None,
        };
        let after = text[words[index].range.end..].trim_start_matches([' ', '*']);
        let code = match after.chars().next() {
            Some('€') => Some("eur"),
            Some('£') => Some("gbp"),
            _ => words
                .get(index + 1)
                .and_then(|next| unit_of_currency(&next.lower)),
        };
        let pence = words[index].lower.ends_with('p').then_some("gbp");
        words[index].currency = symbol.or(code).or(pence);
    }
}

/// The unit of a frequency: "twice a year", "3 times per day", "four times a week".
fn frequency_unit(words: &[Word], index: usize) -> Option<(f64, &'static str)> {
    let mut at = index + 1;
    if words[index].lower != "twice" {
        if words.get(at)?.lower != "times" {
            return None;
        }
        at += 1;
    }
    if !matches!(
        words.get(at)?.lower.as_str(),
        "a" | "an" | "per" | "each" | "every"
    ) {
        return None;
    }
    unit(&words.get(at + 1)?.lower)
}

/// Attaches units to numbers: "2 weeks", "half an hour", "24h".
fn mark_quantities(words: &mut [Word]) {
    for index in 0..words.len() {
        let Some(value) = words[index].number else {
            continue;
        };
        // "three times a day" happens every 8 hours; "twice a year" every 6 months.
        if let Some((scale, base)) = frequency_unit(words, index) {
            words[index].quantity = Some(Quantity {
                value: scale / value.max(f64::MIN_POSITIVE),
                base,
            });
            continue;
        }
        let suffix_unit = words[index]
            .lower
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ',');
        let unit_after =
            |offset: usize| words.get(index + offset).and_then(|next| unit(&next.lower));
        let next = words.get(index + 1).map(|next| next.lower.as_str());
        let found = unit(suffix_unit)
            .filter(|_| !suffix_unit.is_empty())
            .or_else(|| unit_after(1))
            // "half an hour"; "working days", "calendar days", "business hours".
            .or_else(|| {
                matches!(next, Some("a" | "an" | "working" | "calendar" | "business"))
                    .then(|| unit_after(2))
                    .flatten()
            });
        if let Some((scale, base)) = found {
            words[index].quantity = Some(Quantity {
                value: value * scale,
                base,
            });
        }
    }
}

/// Splits `text` into words with their stems, numbers, names and negation scope.
pub fn analyse(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut sentence_start = true;
    while let Some((start, c)) = chars.next() {
        if !c.is_alphanumeric() {
            if matches!(c, '.' | '!' | '?' | ':' | '\n' | '|') {
                sentence_start = true;
            }
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(at, next)) = chars.peek() {
            let keep = next.is_alphanumeric()
                || (matches!(next, ',' | '.') && is_digit_at(text, end.saturating_sub(1)) && {
                    // "1,500" or "4.3": a separator between digits.
                    let after = at + 1;
                    is_digit_at(text, after)
                })
                || (matches!(next, '\'' | '’') && {
                    // "don't", "isn't": keep "n't" for the negation check.
                    let after = &text[at + next.len_utf8()..];
                    after.starts_with('t') && !after[1..].starts_with(char::is_alphanumeric)
                });
            if !keep {
                break;
            }
            end = at + next.len_utf8();
            chars.next();
        }
        let surface = &text[start..end];
        words.push(make_word(surface, start..end, sentence_start));
        sentence_start = false;
    }
    unmark_enumerators(text, &mut words);
    mark_clause_boundaries(text, &mut words);
    combine_numbers(text, &mut words);
    unmark_bounds(&mut words);
    mark_quantities(&mut words);
    mark_currencies(text, &mut words);
    mark_negation_scope(text, &mut words);
    words
}

const CLAUSE_WORDS: &[&str] = &[
    "and",
    "but",
    "while",
    "whereas",
    "so",
    "which",
    "otherwise",
    "although",
    "though",
    "or",
    "whilst",
    "because",
    "since",
    "with",
];

/// The punctuation a gap between words ends (`last`) or starts with, markdown
/// emphasis and spaces skipped; ' ' when there is none.
fn gap_punctuation(gap: &str, last: bool) -> char {
    let mut marks = gap
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '*' | '_' | '`'));
    let found = if last {
        marks.next_back()
    } else {
        marks.next()
    };
    found.unwrap_or(' ')
}

fn mark_clause_boundaries(text: &str, words: &mut [Word]) {
    let mut previous_end = 0;
    let count = words.len();
    for index in 0..count {
        let next_start = words
            .get(index + 1)
            .map_or(text.len(), |next| next.range.start);
        let word = &mut words[index];
        let gap = &text[previous_end..word.range.start];
        word.punct_before = gap_punctuation(gap, true);
        word.punct_after = gap_punctuation(&text[word.range.end..next_start], false);
        word.segment_before = previous_end == 0
            || gap.contains([',', ';', ':', '|', '–'])
            || gap.contains(" - ")
            || matches!(word.lower.as_str(), "and" | "or");
        // "09:30" is a time, not two clauses.
        let time = gap == ":"
            && text[..previous_end].ends_with(|c: char| c.is_ascii_digit())
            && word.lower.starts_with(|c: char| c.is_ascii_digit());
        word.boundary_before = previous_end > 0
            && !time
            && (gap.contains([';', ':', '|', '(', ')'])
                || gap.contains('–')
                || gap.contains(" - ")
                || (gap.contains(',') && CLAUSE_WORDS.contains(&word.lower.as_str()))
                || matches!(word.lower.as_str(), "whereas" | "otherwise" | "unless"));
        previous_end = word.range.end;
    }
}

/// "ten thousand" → 10000, "3 p.m." → 15, "no one" is nobody, not a number.
fn combine_numbers(text: &str, words: &mut Vec<Word>) {
    let mut index = 0;
    while index < words.len() {
        let next = words.get(index + 1).map(|word| word.lower.clone());
        // "forty-eight", "two hundred and five": written-out compounds.
        if let (Some(value), Some(next_value)) = (
            words[index].number,
            words.get(index + 1).and_then(|word| word.number),
        ) {
            let gap = &text[words[index].range.end..words[index + 1].range.start];
            let words_only = words[index].lower.parse::<f64>().is_err()
                && words[index + 1].lower.parse::<f64>().is_err();
            if words_only
                && matches!(gap, "-" | " ")
                && value >= 20.0
                && value % 10.0 == 0.0
                && (1.0..10.0).contains(&next_value)
            {
                set_number(&mut words[index], value + next_value);
                words[index].range.end = words[index + 1].range.end;
                words.remove(index + 1);
                continue;
            }
        }
        if let (Some(value), Some("and"), Some(units)) = (
            words[index].number,
            words.get(index + 1).map(|word| word.lower.as_str()),
            words.get(index + 2).and_then(|word| word.number),
        ) {
            if value >= 100.0
                && value % 100.0 == 0.0
                && units < 100.0
                && words[index].lower.parse::<f64>().is_err()
            {
                set_number(&mut words[index], value + units);
                words.drain(index + 1..index + 3);
                continue;
            }
        }
        // "twenty-two and a half", "one and a half hours".
        if let (Some(value), Some("and"), Some("a"), Some("half")) = (
            words[index].number,
            words.get(index + 1).map(|word| word.lower.as_str()),
            words.get(index + 2).map(|word| word.lower.as_str()),
            words.get(index + 3).map(|word| word.lower.as_str()),
        ) {
            if value.fract() == 0.0 {
                set_number(&mut words[index], value + 0.5);
                words[index].range.end = words[index + 3].range.end;
                words.drain(index + 1..index + 4);
                continue;
            }
        }
        // ISO dates: 2025-05-20 reads as 20 May 2025.
        if index + 2 < words.len()
            && words[index].lower.len() == 4
            && words[index + 1].lower.len() == 2
            && words[index + 2].lower.len() == 2
            && &text[words[index].range.end..words[index + 1].range.start] == "-"
            && &text[words[index + 1].range.end..words[index + 2].range.start] == "-"
        {
            if let Some(month) = words[index + 1]
                .number
                .filter(|month| (1.0..=12.0).contains(month))
            {
                let name = MONTHS[month as usize - 1].to_string();
                let word = &mut words[index + 1];
                word.number = None;
                word.stem = name.clone();
                word.lower = name;
                word.is_date_word = true;
                index += 3;
                continue;
            }
        }
        if let (Some(value), Some(next)) = (words[index].number, next.as_deref()) {
            let scale = match next {
                "hundred" => Some(100.0),
                "thousand" => Some(1_000.0),
                "million" => Some(1_000_000.0),
                _ => None,
            };
            if let Some(scale) = scale {
                if value < 1000.0 {
                    set_number(&mut words[index], value * scale);
                    words.remove(index + 1);
                    continue;
                }
            }
            let after_gap = &text[words[index].range.end..words[index + 1].range.start];
            let afternoon = next == "pm"
                || (next == "p"
                    && words.get(index + 2).is_some_and(|word| word.lower == "m")
                    && after_gap.trim().is_empty());
            if afternoon && (1.0..12.0).contains(&value) {
                set_number(&mut words[index], value + 12.0);
            }
        }
        if words[index].lower == "one" && index > 0 {
            let before = words[index - 1].lower.as_str();
            if matches!(
                before,
                "no" | "any" | "every" | "each" | "some" | "the" | "this" | "that"
            ) {
                words[index].number = None;
                words[index].kind = WordKind::Stop;
            }
        }
        index += 1;
    }
}

/// "5. A change becomes effective …": the number of a list item is not a fact.
fn unmark_enumerators(text: &str, words: &mut [Word]) {
    for word in words.iter_mut() {
        if word.number.is_none() {
            continue;
        }
        let line_start = text[..word.range.start].rfind('\n').map_or(0, |at| at + 1);
        let first_on_line = text[line_start..word.range.start].trim().is_empty();
        let after = &text[word.range.end..];
        let numbered =
            (after.starts_with(". ") || after.starts_with(") ")) && !after[2..].starts_with(' ');
        if first_on_line && numbered && word.lower.chars().all(|c| c.is_ascii_digit()) {
            word.number = None;
            word.kind = WordKind::Stop;
        }
    }
}

/// "no more than", "not later than": a bound, not a negation.
fn unmark_bounds(words: &mut [Word]) {
    for index in 0..words.len().saturating_sub(2) {
        if words[index].kind == WordKind::Negation
            && matches!(
                words[index + 1].lower.as_str(),
                "more" | "less" | "later" | "earlier" | "fewer" | "longer" | "sooner"
            )
            && words[index + 2].lower == "than"
        {
            words[index].kind = WordKind::Stop;
        }
    }
}

fn set_number(word: &mut Word, value: f64) {
    word.number = Some(value);
    word.stem = format_number(value);
}

fn is_digit_at(text: &str, at: usize) -> bool {
    text.as_bytes().get(at).is_some_and(u8::is_ascii_digit)
}

fn make_word(surface: &str, range: Range<usize>, sentence_start: bool) -> Word {
    let normalised: String = surface.nfkc().collect::<String>().replace('’', "'");
    let lower = normalised.to_lowercase();
    let (lower, contracted_negation) = match lower.strip_suffix("n't") {
        Some(stem) => (
            match stem {
                "can" | "ca" => "can".to_string(),
                "won" => "will".to_string(),
                other => other.to_string(),
            },
            true,
        ),
        None => (lower, false),
    };
    let number = parse_number(&lower);
    // "may" is a month only when written "May".
    let is_date_word = (MONTHS.contains(&lower.as_str()) && (lower != "may" || surface == "May"))
        || WEEKDAYS.contains(&lower.as_str());
    let is_acronym = normalised.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && normalised
            .chars()
            .all(|c| c.is_uppercase() || c.is_ascii_digit());
    let kind = if contracted_negation || NEGATIONS.contains(&lower.as_str()) {
        WordKind::Negation
    } else if number.is_some() || is_date_word {
        WordKind::Content
    } else if is_stopword(&lower) && !(is_acronym && unit_of_currency(&lower).is_none()) {
        // "IT" and "US" are names, whatever "it" and "us" are.
        WordKind::Stop
    } else {
        WordKind::Content
    };
    let first = normalised.chars().next().unwrap_or(' ');
    let is_name = kind == WordKind::Content
        && number.is_none()
        && !is_date_word
        && (is_acronym || (first.is_uppercase() && !sentence_start));
    let stem = match number {
        Some(value) => format_number(value),
        None => stem(&lower),
    };
    Word {
        range,
        lower,
        stem,
        kind,
        number,
        is_name,
        capitalised: first.is_uppercase(),
        is_date_word,
        negated: false,
        boundary_before: false,
        segment_before: false,
        punct_before: ' ',
        punct_after: ' ',
        quantity: None,
        currency: None,
    }
}

/// Words after a negation cue, up to the end of the clause or four content
/// words, are negated ("must **not** share passwords" negates share, passwords).
fn mark_negation_scope(text: &str, words: &mut [Word]) {
    let mut remaining = 0usize;
    let mut previous_end = 0usize;
    for word in words.iter_mut() {
        let gap = &text[previous_end..word.range.start];
        if gap.contains([',', ';', '.', ':', '\n', '(', ')']) {
            remaining = 0;
        }
        previous_end = word.range.end;
        match word.kind {
            WordKind::Negation => remaining = 4,
            WordKind::Content if remaining > 0 => {
                word.negated = true;
                remaining -= 1;
            }
            _ => {}
        }
    }
}

fn stem(word: &str) -> String {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER
        .get_or_init(|| Stemmer::create(Algorithm::English))
        .stem(word)
        .into_owned()
}

/// Reads "1,500", "4.3", "3rd", "15%"-less digits and number words as values.
pub fn parse_number(lower: &str) -> Option<f64> {
    if lower.starts_with(|c: char| c.is_ascii_digit()) {
        let digits: String = lower
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
            .filter(|c| *c != ',')
            .collect();
        let suffix = &lower[lower
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == ',' || *c == '.'))
            .map_or(lower.len(), |(at, _)| at)..];
        // "3rd", "24h", "5x", "10k" keep the number; "v2", "mp4" are not numbers.
        let scale = match suffix {
            "" | "st" | "nd" | "rd" | "th" | "h" | "x" | "am" | "pm" | "s" | "m" | "d" | "gb"
            | "mb" | "kb" | "tb" | "ms" | "min" | "eur" | "gbp" | "usd" => 1.0,
            "k" => 1_000.0,
            "p" => 0.01,
            _ => return None,
        };
        if suffix == "pm" {
            let value: f64 = digits.parse().ok()?;
            return Some(if value < 12.0 { value + 12.0 } else { value });
        }
        // Versions ("4.3.1") stay strings.
        if digits.matches('.').count() > 1 {
            return None;
        }
        return digits.parse::<f64>().ok().map(|value| value * scale);
    }
    NUMBER_WORDS
        .iter()
        .find(|(word, _)| *word == lower)
        .map(|(_, value)| *value)
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("#{}", value as i64)
    } else {
        format!("#{value}")
    }
}

const NUMBER_WORDS: &[(&str, f64)] = &[
    ("zero", 0.0),
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("thirteen", 13.0),
    ("fourteen", 14.0),
    ("fifteen", 15.0),
    ("sixteen", 16.0),
    ("seventeen", 17.0),
    ("eighteen", 18.0),
    ("nineteen", 19.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("ninety", 90.0),
    ("hundred", 100.0),
    ("thousand", 1000.0),
    ("second", 2.0),
    ("third", 3.0),
    ("fourth", 4.0),
    ("fifth", 5.0),
    ("sixth", 6.0),
    ("seventh", 7.0),
    ("eighth", 8.0),
    ("ninth", 9.0),
    ("tenth", 10.0),
    ("twice", 2.0),
    ("half", 0.5),
    ("dozen", 12.0),
    ("fortnight", 14.0),
];

pub const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

pub const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "cannot", "none", "nor", "neither", "nothing", "nobody",
    "nowhere", "unable", "unless",
];

fn is_stopword(lower: &str) -> bool {
    STOPWORDS.binary_search(&lower).is_ok()
}

/// Function words and the phrases small models wrap answers in
/// ("According to the sources, …"). Sorted for binary search.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "according",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "based",
    "be",
    "because",
    "been",
    "being",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "dollar",
    "dollars",
    "each",
    "either",
    "etc",
    "eur",
    "euro",
    "euros",
    "even",
    "ever",
    "every",
    "following",
    "for",
    "from",
    "further",
    "gbp",
    "get",
    "gets",
    "getting",
    "given",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "m",
    "me",
    "mentioned",
    "more",
    "most",
    "much",
    "must",
    "my",
    "of",
    "on",
    "one's",
    "onto",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "own",
    "p",
    "per",
    "please",
    "pound",
    "pounds",
    "provided",
    "said",
    "same",
    "say",
    "saying",
    "says",
    "shall",
    "she",
    "should",
    "so",
    "some",
    "source",
    "sources",
    "specifically",
    "state",
    "stated",
    "states",
    "sterling",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "thus",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "usd",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "you",
    "your",
    "yours",
    "yourself",
];

/// Pairs of words whose swap flips a claim. Compared on stems.
pub const ANTONYMS: &[(&str, &str)] = &[
    ("required", "optional"),
    ("mandatory", "optional"),
    ("compulsory", "optional"),
    ("allowed", "prohibited"),
    ("allowed", "forbidden"),
    ("permitted", "prohibited"),
    ("permitted", "forbidden"),
    ("before", "after"),
    ("earlier", "later"),
    ("minimum", "maximum"),
    ("least", "most"),
    ("more", "less"),
    ("more", "fewer"),
    ("higher", "lower"),
    ("increase", "decrease"),
    ("above", "below"),
    ("over", "under"),
    ("enable", "disable"),
    ("enabled", "disabled"),
    ("internal", "external"),
    ("always", "never"),
    ("accept", "reject"),
    ("approve", "reject"),
    ("approved", "rejected"),
    ("include", "exclude"),
    ("included", "excluded"),
    ("inside", "outside"),
    ("paid", "unpaid"),
    ("read", "write"),
    ("encrypted", "unencrypted"),
    ("permanent", "temporary"),
    ("employer", "employee"),
    ("open", "closed"),
    ("upper", "lower"),
    ("highest", "lowest"),
    ("online", "offline"),
    ("automatic", "manual"),
    ("automatically", "manually"),
    ("public", "private"),
    ("same", "different"),
    ("daily", "weekly"),
    ("weekly", "monthly"),
    ("monthly", "yearly"),
    ("monthly", "annual"),
    ("monthly", "annually"),
    ("weekly", "annual"),
    ("daily", "monthly"),
    ("hourly", "daily"),
    ("add", "remove"),
    ("lock", "unlock"),
    ("sooner", "later"),
    ("within", "after"),
    ("shorter", "longer"),
    ("reimbursed", "unreimbursed"),
    ("eligible", "ineligible"),
    ("valid", "invalid"),
    ("personal", "business"),
    ("junior", "senior"),
    ("newly", "previously"),
    ("new", "previous"),
    ("arrears", "advance"),
    ("afterwards", "advance"),
    ("last", "first"),
    ("within", "outside"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn splits_sentences_keeping_markers_and_numbers() {
        let text = "According to [1], you get 28 days. You can carry over 5 days [2]. \
                    Version 4.3 adds e.g. exports! Really? Yes.[3]\n- item one\n- item two";
        assert_eq!(
            sentences(text),
            vec![
                "According to [1], you get 28 days.",
                "You can carry over 5 days [2].",
                "Version 4.3 adds e.g. exports!",
                "Really?",
                "Yes.[3]",
                "- item one",
                "- item two",
            ]
        );
        assert_eq!(
            sentences("Leave is granted. [1] [2] Then more."),
            vec!["Leave is granted. [1] [2]", "Then more."]
        );
    }

    #[test]
    fn markdown_blocks_are_units_and_wrapped_lines_join() {
        let text =
            "## 3. Leave\n\nEvery employee receives\n28 days.\n| a | b |\n|---|---|\n| x | 1 |";
        assert_eq!(
            sentences(text),
            vec![
                "## 3. Leave",
                "Every employee receives\n28 days.",
                "| a | b |",
                "| x | 1 |"
            ]
        );
    }

    #[test]
    fn reads_numbers_in_their_forms() {
        for (word, value) in [
            ("1,500", 1500.0),
            ("4.3", 4.3),
            ("3rd", 3.0),
            ("fifteen", 15.0),
            ("10k", 10_000.0),
        ] {
            assert_eq!(parse_number(word), Some(value), "{word}");
        }
        assert_eq!(parse_number("4.3.1"), None);
        assert_eq!(parse_number("mp4"), None);
        let words = analyse("The €1,500 limit, 28 days and version 4.3.1.");
        let numbers: Vec<_> = words.iter().filter_map(|w| w.number).collect();
        assert_eq!(numbers, vec![1500.0, 28.0]);
        // Durations compare across units: two days are 48 hours, a year is 12 months.
        let quantity = |text: &str| {
            analyse(text)
                .into_iter()
                .find_map(|word| word.quantity)
                .unwrap()
        };
        assert!(quantity("two days").same(&quantity("48 hours")));
        assert!(quantity("2 weeks").same(&quantity("14 days")));
        assert!(quantity("1 year").same(&quantity("12 months")));
        assert!(!quantity("2 days").same(&quantity("2 hours")));
    }

    #[test]
    fn finds_names_and_negation_scope() {
        let words = analyse("Staff must not share MFA codes with Priya in Leeds.");
        let names: Vec<_> = words
            .iter()
            .filter(|w| w.is_name)
            .map(|w| w.lower.as_str())
            .collect();
        assert_eq!(names, vec!["mfa", "priya", "leeds"]);
        let negated: Vec<_> = words
            .iter()
            .filter(|w| w.negated)
            .map(|w| w.lower.as_str())
            .collect();
        assert_eq!(negated, vec!["share", "mfa", "codes", "priya"]);
        let words = analyse("You don't need approval.");
        assert_eq!(words[1].kind, WordKind::Negation);
        assert_eq!(words[1].lower, "do");
    }

    #[test]
    fn citation_markers() {
        assert_eq!(citation_numbers("a [1] b [2, 3] c [1] [x]"), vec![1, 2, 3]);
        assert_eq!(
            strip_citation_markers("28 days [1]. More [2,3]."),
            "28 days. More."
        );
    }

    #[test]
    fn stopword_list_is_sorted() {
        assert!(STOPWORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
