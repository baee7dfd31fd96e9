//! Text out of HTML, PDF, DOCX and CSV files, with locations for citations.
//!
//! Each reader returns Markdown-like text (headings as `#`, list items as `-`,
//! table rows as `| a | b |`) so one chunker and one citation checker serve
//! every format. Content a reader would not see — HTML comments and hidden
//! elements — is kept out of the text and returned as [`HiddenText`], so the
//! guards can look for instructions planted there. Parsers of binary formats
//! run under `catch_unwind`: a corrupt file is an error, never a crash.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

use quick_xml::events::Event;
use scraper::{ElementRef, Html, Node};

use super::extract::{ExtractError, Extracted, Location};
use crate::store::HiddenText;

/// Largest decompressed XML part read from a DOCX (zip bombs stop here).
const MAX_DOCX_XML_BYTES: u64 = 64 * 1024 * 1024;

/// Builds the extracted text with paragraph structure and locations.
#[derive(Default)]
struct TextBuilder {
    text: String,
    locations: Vec<Location>,
}

impl TextBuilder {
    /// Starts a new block (paragraph, heading, list item, row).
    fn block(&mut self, blank_line: bool) {
        let trimmed = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(trimmed);
        if self.text.is_empty() {
            return;
        }
        let wanted = if blank_line { "\n\n" } else { "\n" };
        while !self.text.ends_with(wanted) {
            self.text.push('\n');
        }
    }

    fn push_inline(&mut self, piece: &str) {
        let mut last_space = self.text.is_empty() || self.text.ends_with([' ', '\n']);
        for c in piece.chars() {
            if c.is_whitespace() {
                if !last_space {
                    self.text.push(' ');
                    last_space = true;
                }
            } else {
                self.text.push(c);
                last_space = false;
            }
        }
    }

    fn locate(&mut self, label: String) {
        self.locations.push(Location {
            start: self.text.len(),
            label,
        });
    }

    fn finish(self) -> (String, Vec<Location>) {
        let mut text = self.text.trim_end().to_string();
        text.push('\n');
        (text, self.locations)
    }
}

pub fn html(bytes: &[u8], fallback_title: &str) -> Result<Extracted, ExtractError> {
    let source = String::from_utf8_lossy(bytes);
    let document = Html::parse_document(&source);
    let mut builder = TextBuilder::default();
    let mut hidden = Vec::new();
    let mut title = None;
    walk_html(
        document.root_element(),
        &mut builder,
        &mut hidden,
        &mut title,
    );
    for node in document.tree.nodes() {
        if let Node::Comment(comment) = node.value() {
            let text = comment.trim();
            // `<?xml …?>` reaches the parser as a bogus comment: not content.
            if !text.is_empty() && !text.starts_with('?') {
                hidden.push(HiddenText {
                    reason: "HTML comment".into(),
                    text: text.to_string(),
                });
            }
        }
    }
    let (text, locations) = builder.finish();
    let title = title
        .or_else(|| super::extract::markdown_title(&text))
        .unwrap_or_else(|| fallback_title.to_string());
    Ok(Extracted {
        title,
        text,
        format: "html",
        locations,
        hidden,
    })
}

fn hidden_reason(element: &ElementRef) -> Option<&'static str> {
    let value = element.value();
    if value.attr("hidden").is_some() {
        return Some("element with the `hidden` attribute");
    }
    if value
        .attr("aria-hidden")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Some("element with aria-hidden=true");
    }
    if let Some(style) = value.attr("style") {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if style.contains("display:none") {
            return Some("element styled display:none");
        }
        if style.contains("visibility:hidden") {
            return Some("element styled visibility:hidden");
        }
        if style.contains("font-size:0")
            || style.contains("opacity:0;")
            || style.ends_with("opacity:0")
        {
            return Some("element styled invisible");
        }
    }
    if value.name() == "input" && value.attr("type") == Some("hidden") {
        return Some("hidden form field");
    }
    None
}

fn walk_html(
    element: ElementRef,
    out: &mut TextBuilder,
    hidden: &mut Vec<HiddenText>,
    title: &mut Option<String>,
) {
    let name = element.value().name();
    match name {
        "script" | "style" | "noscript" | "template" | "svg" | "iframe" | "object" | "embed"
        | "head" => {
            if name == "head" {
                if let Some(found) = element
                    .descendants()
                    .filter_map(ElementRef::wrap)
                    .find(|e| e.value().name() == "title")
                {
                    let text = collapse(&found.text().collect::<String>());
                    if !text.is_empty() {
                        *title = Some(text);
                    }
                }
            }
            return;
        }
        _ => {}
    }
    if let Some(reason) = hidden_reason(&element) {
        let text = collapse(&element.text().collect::<String>());
        let text = match element.value().attr("value") {
            Some(value) if text.is_empty() => value.to_string(),
            _ => text,
        };
        if !text.is_empty() {
            hidden.push(HiddenText {
                reason: reason.into(),
                text,
            });
        }
        return;
    }
    let heading = match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    };
    let block = matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "main"
            | "nav"
            | "aside"
            | "blockquote"
            | "pre"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "figure"
            | "figcaption"
            | "form"
            | "address"
            | "hr"
            | "caption"
    );
    if let Some(level) = heading {
        out.block(true);
        out.text.push_str(&"#".repeat(level));
        out.text.push(' ');
    } else if name == "li" {
        out.block(false);
        out.text.push_str("- ");
    } else if name == "tr" {
        out.block(false);
        out.text.push('|');
    } else if name == "br" {
        out.block(false);
    } else if block {
        out.block(true);
    }
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_inline(text),
            Node::Element(_) => {
                if let Some(child) = ElementRef::wrap(child) {
                    walk_html(child, out, hidden, title);
                }
            }
            _ => {}
        }
    }
    if matches!(name, "td" | "th") {
        let trimmed = out.text.trim_end_matches(' ').len();
        out.text.truncate(trimmed);
        out.text.push_str(" |");
    }
    if heading.is_some() || block || name == "tr" {
        out.block(heading.is_some() || name == "table" || name == "p");
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn pdf(bytes: &[u8], fallback_title: &str) -> Result<Extracted, ExtractError> {
    let corrupt = |message: String| ExtractError::Corrupt {
        format: "PDF",
        message,
    };
    let pages = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    }))
    .map_err(|_| corrupt("the PDF parser gave up on this file".into()))?
    .map_err(|err| corrupt(err.to_string()))?;
    let mut builder = TextBuilder::default();
    for (number, page) in pages.iter().enumerate() {
        let page = clean_pdf_page(page);
        if page.is_empty() {
            continue;
        }
        builder.block(true);
        builder.locate(format!("page {}", number + 1));
        builder.text.push_str(&page);
    }
    let (text, locations) = builder.finish();
    if text.trim().is_empty() {
        return Err(corrupt(
            "no text found (a scanned PDF needs OCR first)".into(),
        ));
    }
    let title = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .filter(|line| line.chars().count() <= 120)
        .map(str::to_string)
        .unwrap_or_else(|| fallback_title.to_string());
    Ok(Extracted {
        title,
        text,
        format: "pdf",
        locations,
        hidden: Vec::new(),
    })
}

/// PDF text comes with hard line breaks inside paragraphs and runs of blank
/// lines: lines are rejoined into paragraphs at blank lines.
fn clean_pdf_page(page: &str) -> String {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for line in page.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&collapse(line));
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs.join("\n\n")
}

pub fn docx(bytes: &[u8], fallback_title: &str) -> Result<Extracted, ExtractError> {
    let corrupt = |message: String| ExtractError::Corrupt {
        format: "DOCX",
        message,
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|err| corrupt(format!("not a valid DOCX (zip) file: {err}")))?;
    let xml = read_zip_part(&mut archive, "word/document.xml")
        .map_err(corrupt)?
        .ok_or_else(|| corrupt("word/document.xml is missing".into()))?;
    let core_title = read_zip_part(&mut archive, "docProps/core.xml")
        .ok()
        .flatten()
        .and_then(|core| xml_element_text(&core, b"dc:title"));
    let result = catch_unwind(AssertUnwindSafe(|| parse_docx_body(&xml)))
        .map_err(|_| corrupt("the DOCX parser gave up on this file".into()))?
        .map_err(corrupt)?;
    let (text, locations, styled_title) = result;
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    let title = core_title
        .filter(|title| !title.trim().is_empty())
        .or(styled_title)
        .unwrap_or_else(|| fallback_title.to_string());
    Ok(Extracted {
        title,
        text,
        format: "docx",
        locations,
        hidden: Vec::new(),
    })
}

fn read_zip_part(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    name: &str,
) -> Result<Option<String>, String> {
    let file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    if file.size() > MAX_DOCX_XML_BYTES {
        return Err(format!("{name} is too large when decompressed"));
    }
    let mut text = String::new();
    file.take(MAX_DOCX_XML_BYTES)
        .read_to_string(&mut text)
        .map_err(|err| format!("{name}: {err}"))?;
    Ok(Some(text))
}

fn xml_element_text(xml: &str, tag: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.name().as_ref() == tag => inside = true,
            Event::End(e) if e.name().as_ref() == tag => return Some(text),
            Event::Text(t) if inside => text.push_str(&t.xml_content().ok()?),
            Event::Eof => return None,
            _ => {}
        }
    }
}

type DocxBody = (String, Vec<Location>, Option<String>);

/// Paragraphs (`w:p`) with their style, runs of text (`w:t`), tabs, breaks and
/// tables (`w:tbl`, rows `w:tr`, cells `w:tc`).
fn parse_docx_body(xml: &str) -> Result<DocxBody, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut builder = TextBuilder::default();
    let mut paragraph = String::new();
    let mut style: Option<String> = None;
    let mut list_item = false;
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut rows_in_table = 0usize;
    let mut paragraph_number = 0usize;
    let mut title = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|err| format!("word/document.xml: {err}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"w:p" => {
                    paragraph.clear();
                    style = None;
                    list_item = false;
                }
                b"w:pStyle" => {
                    style = e
                        .try_get_attribute("w:val")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok())
                        .map(|v| v.into_owned());
                }
                b"w:numPr" => list_item = true,
                b"w:t" => in_text = true,
                b"w:tab" => paragraph.push('\t'),
                b"w:br" | b"w:cr" => paragraph.push(' '),
                b"w:tbl" => {
                    table_depth += 1;
                    if table_depth == 1 {
                        paragraph_number += 1;
                        builder.block(true);
                        builder.locate(format!("paragraph {paragraph_number}"));
                        rows_in_table = 0;
                    }
                }
                b"w:tr" => row.clear(),
                b"w:tc" => cell.clear(),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let text = t.xml_content().map_err(|err| err.to_string())?;
                paragraph.push_str(&text);
            }
            Event::GeneralRef(r) if in_text => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                paragraph.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(e) => match e.name().as_ref() {
                b"w:t" => in_text = false,
                b"w:p" => {
                    let text = collapse(&paragraph);
                    if table_depth > 0 {
                        if !text.is_empty() {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(&text);
                        }
                        continue;
                    }
                    if text.is_empty() {
                        continue;
                    }
                    paragraph_number += 1;
                    let heading = style.as_deref().and_then(heading_level);
                    builder.block(true);
                    builder.locate(format!("paragraph {paragraph_number}"));
                    match heading {
                        Some(level) => {
                            if title.is_none() && level <= 1 {
                                title = Some(text.clone());
                            }
                            builder.text.push_str(&"#".repeat(level.max(1)));
                            builder.text.push(' ');
                        }
                        None if list_item
                            || style.as_deref().is_some_and(|s| s.starts_with("List")) =>
                        {
                            builder.text.push_str("- ")
                        }
                        None => {}
                    }
                    builder.text.push_str(&text);
                }
                b"w:tc" => row.push(std::mem::take(&mut cell).replace('|', "/")),
                b"w:tr" if table_depth == 1 => {
                    builder.block(false);
                    builder.text.push_str(&format!("| {} |", row.join(" | ")));
                    rows_in_table += 1;
                    if rows_in_table == 1 {
                        builder.block(false);
                        builder
                            .text
                            .push_str(&format!("|{}", " --- |".repeat(row.len().max(1))));
                    }
                }
                b"w:tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    if table_depth == 0 {
                        builder.block(true);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let (text, locations) = builder.finish();
    Ok((text, locations, title))
}

/// `Title` → 1, `Heading2` → 2, … (Word's built-in style ids).
fn heading_level(style: &str) -> Option<usize> {
    if style.eq_ignore_ascii_case("title") {
        return Some(1);
    }
    let digits = style
        .strip_prefix("Heading")
        .or_else(|| style.strip_prefix("heading"))?;
    digits.parse::<usize>().ok().map(|level| level.clamp(1, 6))
}

/// Each record becomes one self-contained line, `Header: value; Header: value.`,
/// so a passage keeps its column names wherever the chunker cuts.
pub fn csv(bytes: &[u8], fallback_title: &str) -> Result<Extracted, ExtractError> {
    let text =
        std::str::from_utf8(bytes).map_err(|err| ExtractError::NotUtf8(err.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let corrupt = |message: String| ExtractError::Corrupt {
        format: "CSV",
        message,
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|err| corrupt(err.to_string()))?
        .iter()
        .map(collapse)
        .collect();
    let mut builder = TextBuilder::default();
    builder.text.push_str(&format!("# {fallback_title}\n\n"));
    for (number, record) in reader.records().enumerate() {
        let record = record.map_err(|err| corrupt(err.to_string()))?;
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(column, value)| match headers.get(column) {
                Some(header) if !header.is_empty() => format!("{header}: {}", collapse(value)),
                _ => collapse(value),
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        builder.block(false);
        builder.locate(format!("row {}", number + 1));
        builder.text.push_str(&fields.join("; "));
        builder.text.push('.');
    }
    let (text, locations) = builder.finish();
    if locations.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted {
        title: fallback_title.to_string(),
        text,
        format: "csv",
        locations,
        hidden: Vec::new(),
    })
}
