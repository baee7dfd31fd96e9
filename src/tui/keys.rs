//! Key bindings as data: one table read by the event handler and by the help
//! screen, so what `?` shows is what the keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Send,
    Newline,
    Cancel,
    Quit,
    Help,
    Complete,
    HistoryPrevious,
    HistoryNext,
    ScrollUp,
    ScrollDown,
    Backspace,
    Type(char),
}

/// `(key, modifiers, action, what the help screen says)`.
pub const BINDINGS: &[(KeyCode, KeyModifiers, KeyAction, &str)] = &[
    (
        KeyCode::Enter,
        KeyModifiers::NONE,
        KeyAction::Send,
        "send the question",
    ),
    (
        KeyCode::Enter,
        KeyModifiers::ALT,
        KeyAction::Newline,
        "new line in the question",
    ),
    (
        KeyCode::Char('j'),
        KeyModifiers::CONTROL,
        KeyAction::Newline,
        "new line (also Alt+Enter)",
    ),
    (
        KeyCode::Esc,
        KeyModifiers::NONE,
        KeyAction::Cancel,
        "cancel the answer being written",
    ),
    (
        KeyCode::Char('d'),
        KeyModifiers::CONTROL,
        KeyAction::Quit,
        "quit",
    ),
    (
        KeyCode::F(1),
        KeyModifiers::NONE,
        KeyAction::Help,
        "this help (also ? on an empty line)",
    ),
    (
        KeyCode::Tab,
        KeyModifiers::NONE,
        KeyAction::Complete,
        "complete a /command",
    ),
    (
        KeyCode::Up,
        KeyModifiers::NONE,
        KeyAction::HistoryPrevious,
        "previous question",
    ),
    (
        KeyCode::Down,
        KeyModifiers::NONE,
        KeyAction::HistoryNext,
        "next question",
    ),
    (
        KeyCode::PageUp,
        KeyModifiers::NONE,
        KeyAction::ScrollUp,
        "scroll the conversation up (also the mouse wheel)",
    ),
    (
        KeyCode::PageDown,
        KeyModifiers::NONE,
        KeyAction::ScrollDown,
        "scroll down",
    ),
    (
        KeyCode::Backspace,
        KeyModifiers::NONE,
        KeyAction::Backspace,
        "delete a character",
    ),
];

/// The action for a key. Ctrl+C cancels while an answer is coming and quits
/// otherwise; `?` on an empty line opens the help.
pub fn binding_for(key: &KeyEvent, input_empty: bool, busy: bool) -> Option<KeyAction> {
    if key.kind == ratatui::crossterm::event::KeyEventKind::Release {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(if busy {
            KeyAction::Cancel
        } else {
            KeyAction::Quit
        });
    }
    if key.code == KeyCode::Char('?') && input_empty {
        return Some(KeyAction::Help);
    }
    let found = BINDINGS.iter().find(|(code, modifiers, _, _)| {
        *code == key.code && key.modifiers.difference(KeyModifiers::SHIFT) == *modifiers
    });
    if let Some((_, _, action, _)) = found {
        return Some(*action);
    }
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(KeyAction::Type(c))
        }
        _ => None,
    }
}

/// A key as the help screen writes it.
pub fn describe(code: KeyCode, modifiers: KeyModifiers) -> String {
    let key = match code {
        KeyCode::Char(c) => c.to_ascii_uppercase().to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => format!("{other:?}"),
    };
    let mut prefix = String::new();
    if modifiers.contains(KeyModifiers::CONTROL) {
        prefix.push_str("Ctrl+");
    }
    if modifiers.contains(KeyModifiers::ALT) {
        prefix.push_str("Alt+");
    }
    format!("{prefix}{key}")
}
