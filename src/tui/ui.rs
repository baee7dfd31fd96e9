//! Drawing the chat screen: a pure function of `App`. Conversation (with a
//! little markdown: headings, lists, code blocks, `[n]` markers), sources with
//! their support verdicts, guard notices inline, the input box, a status bar,
//! and the help overlay. Fits 80×24; side-by-side sources from 110 columns.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::guard::{Outcome, Verdict};

use super::app::{App, Turn, TurnState, SLASH_COMMANDS};
use super::keys::{describe, KeyAction};

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let input_lines = app.input.lines().count().clamp(1, 4) as u16
        + usize::from(app.input.ends_with('\n')) as u16;
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(5),
            Constraint::Length(input_lines.min(5) + 2),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    let body = rows[0];
    let (conversation, sources) = if !app.show_sources {
        (body, None)
    } else if body.width >= 110 {
        let columns = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(64), Constraint::Percentage(36)])
            .split(body);
        (columns[0], Some(columns[1]))
    } else {
        let stacked = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(4), Constraint::Length(6)])
            .split(body);
        (stacked[0], Some(stacked[1]))
    };
    render_conversation(app, frame, conversation);
    if let Some(area) = sources {
        render_sources(app, frame, area);
    }
    render_input(app, frame, rows[1]);
    let hint = app.hint.clone().unwrap_or_else(|| {
        let key = |action: KeyAction| {
            app.keys
                .0
                .iter()
                .find(|binding| binding.2 == action)
                .map_or_else(|| "-".to_string(), |binding| describe(binding.0, binding.1))
        };
        format!(
            "{} send · {} new line · {} cancel · ? help · {} quit",
            key(KeyAction::Send),
            key(KeyAction::Newline),
            key(KeyAction::Cancel),
            key(KeyAction::Quit)
        )
    });
    frame.render_widget(
        Paragraph::new(Span::styled(hint, Style::default().fg(Color::DarkGray))),
        rows[2],
    );
    render_status(app, frame, rows[3]);
    if app.show_help {
        render_help(app, frame, area);
    }
}

/// `**bold**` and `[n]` markers inside a line of answer text.
fn with_markers(text: &str, base: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (index, part) in text.split("**").enumerate() {
        // Odd parts sit between a pair of `**`.
        let style = if index % 2 == 1 && text.matches("**").count() >= 2 {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        spans.extend(citation_markers(part, style));
    }
    spans
}

/// `[n]` markers highlighted inside a piece of text.
fn citation_markers(text: &str, base: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(']') {
            spans.push(Span::styled(rest[..start].to_string(), base));
            spans.push(Span::styled(
                rest[start..start + digits + 2].to_string(),
                base.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
            rest = &rest[start + digits + 2..];
        } else {
            spans.push(Span::styled(rest[..start + 1].to_string(), base));
            rest = &rest[start + 1..];
        }
    }
    spans.push(Span::styled(rest.to_string(), base));
    spans
}

/// A markdown table's rows as aligned lines (the `---` row becomes a rule).
fn table(rows: &[&str], base: Style) -> Vec<Line<'static>> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect();
    let is_rule = |row: &[String]| {
        row.iter()
            .all(|cell| !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':')))
    };
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in cells.iter().filter(|row| !is_rule(row)) {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let mut lines = Vec::new();
    for (index, row) in cells.iter().enumerate() {
        if is_rule(row) {
            let rule: Vec<String> = widths.iter().map(|width| "─".repeat(*width)).collect();
            lines.push(Line::from(Span::styled(
                format!("  {}", rule.join("─┼─")),
                Style::default().fg(Color::DarkGray),
            )));
            continue;
        }
        let style = if index == 0 && cells.get(1).is_some_and(|next| is_rule(next)) {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        let mut spans = vec![Span::raw("  ")];
        for (column, width) in widths.iter().enumerate() {
            if column > 0 {
                spans.push(Span::styled(" │ ", Style::default().fg(Color::DarkGray)));
            }
            let cell = row.get(column).map_or("", String::as_str);
            let padding = width.saturating_sub(cell.chars().count());
            spans.extend(with_markers(cell, style));
            spans.push(Span::raw(" ".repeat(padding)));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Answer text with light markdown: headings, lists, code blocks, tables,
/// quotes, bold and `[n]` markers.
fn markdown(text: &str, base: Style) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut in_code = false;
    let raw_lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    while at < raw_lines.len() {
        let raw = raw_lines[at];
        at += 1;
        if raw.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            lines.push(Line::from(Span::styled(
                format!("  {raw}"),
                Style::default().fg(Color::Green),
            )));
        } else if raw.trim_start().starts_with('|') {
            let mut rows = vec![raw];
            while at < raw_lines.len() && raw_lines[at].trim_start().starts_with('|') {
                rows.push(raw_lines[at]);
                at += 1;
            }
            lines.extend(table(&rows, base));
        } else if let Some(heading) = raw.strip_prefix('#') {
            lines.push(Line::from(Span::styled(
                heading.trim_start_matches('#').trim().to_string(),
                base.add_modifier(Modifier::BOLD),
            )));
        } else if let Some(item) = raw
            .trim_start()
            .strip_prefix("- ")
            .or_else(|| raw.trim_start().strip_prefix("* "))
        {
            let mut spans = vec![Span::styled("  • ", base)];
            spans.extend(with_markers(item, base));
            lines.push(Line::from(spans));
        } else if let Some(quote) = raw.strip_prefix("> ") {
            let mut spans = vec![Span::styled("│ ", Style::default().fg(Color::DarkGray))];
            spans.extend(with_markers(quote, base.add_modifier(Modifier::ITALIC)));
            lines.push(Line::from(spans));
        } else {
            lines.push(Line::from(with_markers(raw, base)));
        }
    }
    lines
}

fn verdict_line(turn: &Turn) -> Option<Line<'static>> {
    let outcome = turn.outcome?;
    let (supported, unsupported) = turn.verdict_counts();
    let (label, color) = match outcome {
        Outcome::Answered => ("verified", Color::Green),
        Outcome::Annotated => ("partly unsupported (marked)", Color::Yellow),
        Outcome::Stripped => ("unsupported sentences removed", Color::Yellow),
        Outcome::Quoted => ("draft refused; sources quoted", Color::Yellow),
        Outcome::Declined => ("not in the sources", Color::Yellow),
        Outcome::Refused => ("refused: not verifiable", Color::Red),
        Outcome::NotFound => ("nothing relevant found", Color::Yellow),
        Outcome::Blocked => ("blocked by a guard", Color::Red),
        Outcome::ToolPending => ("action waiting for approval", Color::Yellow),
        Outcome::ToolRefused => ("action refused", Color::Red),
    };
    let mut spans = vec![Span::styled(
        format!("  ● {label}"),
        Style::default().fg(color).add_modifier(Modifier::BOLD),
    )];
    if supported + unsupported > 0 {
        spans.push(Span::styled(
            format!("  ✓ {supported} supported"),
            Style::default().fg(Color::Green),
        ));
        if unsupported > 0 {
            spans.push(Span::styled(
                format!("  ✗ {unsupported} unsupported"),
                Style::default().fg(Color::Red),
            ));
        }
    }
    if let Some(review) = &turn.review {
        spans.push(Span::styled(
            format!("  review {review}"),
            Style::default().fg(Color::Magenta),
        ));
    }
    Some(Line::from(spans))
}

fn render_conversation(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    if app.turns.is_empty() {
        lines.push(Line::from(Span::styled(
            "Ask about your company's documents. Every sentence is checked against its sources.",
            Style::default().fg(Color::DarkGray),
        )));
    }
    for turn in &app.turns {
        lines.push(Line::from(vec![
            Span::styled(
                "You ",
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(turn.question.clone()),
        ]));
        let base = match turn.state {
            TurnState::Streaming => Style::default().fg(Color::DarkGray),
            TurnState::Failed => Style::default().fg(Color::Red),
            _ => Style::default(),
        };
        if turn.state == TurnState::Streaming && app.stream_drafts {
            lines.push(Line::from(Span::styled(
                "Warden (draft, not verified yet)",
                Style::default()
                    .fg(Color::DarkGray)
                    .add_modifier(Modifier::ITALIC),
            )));
        } else {
            lines.push(Line::from(Span::styled(
                "Warden",
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            )));
        }
        if turn.state == TurnState::Streaming && turn.answer.is_empty() {
            lines.push(Line::from(Span::styled(
                format!(
                    "  writing ({} tokens); shown once every sentence is checked…",
                    turn.draft_tokens
                ),
                Style::default()
                    .fg(Color::DarkGray)
                    .add_modifier(Modifier::ITALIC),
            )));
        }
        lines.extend(markdown(&turn.answer, base));
        for notice in &turn.notices {
            lines.push(Line::from(Span::styled(
                format!("  ⚠ {notice}"),
                Style::default().fg(Color::Magenta),
            )));
        }
        if let Some(line) = verdict_line(turn) {
            lines.push(line);
        }
        // Each claim the sources did not back, named (the shown answer may
        // already have dropped or quoted around it).
        if let Some(verification) = &turn.verification {
            for sentence in verification.sentences.iter().filter(|s| !s.is_grounded()) {
                let text: String = sentence.text.chars().take(70).collect();
                lines.push(Line::from(Span::styled(
                    format!(
                        "    ✗ {}: {text}",
                        format!("{:?}", sentence.verdict).to_lowercase()
                    ),
                    Style::default().fg(Color::Red),
                )));
            }
        }
        lines.push(Line::default());
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Conversation ");
    let inner_width = area.width.saturating_sub(2).max(1);
    let paragraph = Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false });
    let total = paragraph.line_count(inner_width) as u16;
    let visible = area.height.saturating_sub(2);
    let bottom = total.saturating_sub(visible);
    let offset = bottom.saturating_sub(app.scroll_back);
    frame.render_widget(paragraph.block(block).scroll((offset, 0)), area);
}

fn support_of(turn: &Turn, number: usize) -> (&'static str, Color) {
    let Some(verification) = &turn.verification else {
        return ("", Color::DarkGray);
    };
    let citing: Vec<_> = verification
        .sentences
        .iter()
        .filter(|sentence| sentence.citations.contains(&number))
        .collect();
    if citing
        .iter()
        .any(|sentence| sentence.verdict == Verdict::Supported)
    {
        ("✓ supported", Color::Green)
    } else if citing.is_empty() {
        ("· not cited", Color::DarkGray)
    } else {
        ("✗ unsupported", Color::Red)
    }
}

fn render_sources(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    if let Some(turn) = app.turns.last() {
        for source in &turn.sources {
            let (support, color) = support_of(turn, source.number);
            lines.push(Line::from(vec![
                Span::styled(
                    format!("[{}] ", source.number),
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                ),
                Span::raw(source.title.clone()),
            ]));
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "    {}{}  {:.2}  ",
                        source.source,
                        source
                            .location
                            .as_ref()
                            .map(|location| format!(" · {location}"))
                            .unwrap_or_default(),
                        source.score
                    ),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::styled(support, Style::default().fg(color)),
            ]));
            if app.expanded_source == Some(source.number) {
                for line in source.text.lines().filter(|line| !line.trim().is_empty()) {
                    lines.push(Line::from(Span::styled(
                        format!("    {line}"),
                        Style::default().add_modifier(Modifier::ITALIC),
                    )));
                }
            }
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "Sources of the answer appear here.",
            Style::default().fg(Color::DarkGray),
        )));
    }
    lines.push(Line::from(Span::styled(
        "✓ supported  ✗ unsupported  · not cited",
        Style::default().fg(Color::DarkGray),
    )));
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Sources ")),
        area,
    );
}

fn render_input(app: &App, frame: &mut Frame, area: Rect) {
    let title = if app.busy() {
        " Ask (answer coming… Esc cancels) "
    } else {
        " Ask "
    };
    let text = format!("{}█", app.input);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let status = &app.status;
    let speed = status
        .tokens_per_s
        .map(|speed| format!(" · {speed:.1} tok/s"))
        .unwrap_or_default();
    let line = format!(
        " {} · tenant {} · {}{} · {} documents, {} chunks ",
        status.user, status.tenant, status.model, speed, status.documents, status.chunks
    );
    frame.render_widget(
        Paragraph::new(line).style(Style::default().bg(Color::Blue).fg(Color::White)),
        area,
    );
}

fn render_help(app: &App, frame: &mut Frame, area: Rect) {
    let width = area.width.min(76);
    let height = area
        .height
        .min((app.keys.0.len() + SLASH_COMMANDS.len().div_ceil(2) + 4) as u16);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines = vec![Line::from(Span::styled(
        "Keys",
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    for (code, modifiers, _, what) in &app.keys.0 {
        lines.push(Line::from(format!(
            "  {:<12} {what}",
            describe(*code, *modifiers)
        )));
    }
    lines.push(Line::from(Span::styled(
        "Commands",
        Style::default().add_modifier(Modifier::BOLD),
    )));
    for pair in SLASH_COMMANDS.chunks(2) {
        let cells: Vec<String> = pair
            .iter()
            .map(|(name, what)| format!("  {name:<9} {what:<24}"))
            .collect();
        lines.push(Line::from(cells.concat()));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Help (any key closes) "),
        ),
        popup,
    );
}
