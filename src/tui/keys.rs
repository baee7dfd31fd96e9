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

/// One binding: a key, its modifiers, the action, what the help says.
pub type Binding = (KeyCode, KeyModifiers, KeyAction, &'static str);

/// The bindings in force: the defaults with `[keys]` from warden.toml over them.
#[derive(Debug, Clone)]
pub struct KeyMap(pub Vec<Binding>);

impl Default for KeyMap {
    fn default() -> Self {
        Self(BINDINGS.to_vec())
    }
}

/// Names of the rebindable actions, as `[keys]` in warden.toml spells them.
pub const ACTION_NAMES: &[(&str, KeyAction)] = &[
    ("send", KeyAction::Send),
    ("newline", KeyAction::Newline),
    ("cancel", KeyAction::Cancel),
    ("quit", KeyAction::Quit),
    ("help", KeyAction::Help),
    ("complete", KeyAction::Complete),
    ("history_previous", KeyAction::HistoryPrevious),
    ("history_next", KeyAction::HistoryNext),
    ("scroll_up", KeyAction::ScrollUp),
    ("scroll_down", KeyAction::ScrollDown),
];

/// Parses `ctrl+d`, `alt+enter`, `f1`, `pageup`, `x`.
pub fn parse_key(text: &str) -> Result<(KeyCode, KeyModifiers), String> {
    let lower = text.trim().to_ascii_lowercase();
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = lower.as_str();
    loop {
        if let Some(after) = rest.strip_prefix("ctrl+") {
            modifiers |= KeyModifiers::CONTROL;
            rest = after;
        } else if let Some(after) = rest.strip_prefix("alt+") {
            modifiers |= KeyModifiers::ALT;
            rest = after;
        } else {
            break;
        }
    }
    let code = match rest {
        "enter" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "backspace" => KeyCode::Backspace,
        f if f.starts_with('f') && f.len() > 1 => match f[1..].parse::<u8>() {
            Ok(n @ 1..=12) => KeyCode::F(n),
            _ => return Err(format!("`{text}` is not a key")),
        },
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
        _ => {
            return Err(format!(
                "`{text}` is not a key (try ctrl+d, alt+enter, f2, pageup)"
            ))
        }
    };
    Ok((code, modifiers))
}

impl KeyMap {
    /// The defaults with `overrides` (`action name → key`) applied: the
    /// named action moves to the given key, which leaves any other action.
    pub fn with_overrides(
        overrides: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let mut map = Self::default();
        for (name, key) in overrides {
            let action = ACTION_NAMES
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, action)| *action)
                .ok_or_else(|| {
                    let names: Vec<&str> = ACTION_NAMES.iter().map(|(name, _)| *name).collect();
                    format!("unknown action `{name}`; actions are {}", names.join(", "))
                })?;
            let (code, modifiers) = parse_key(key)?;
            let what = map
                .0
                .iter()
                .find(|binding| binding.2 == action)
                .map_or("", |binding| binding.3);
            map.0.retain(|binding| {
                binding.2 != action && !(binding.0 == code && binding.1 == modifiers)
            });
            map.0.insert(0, (code, modifiers, action, what));
        }
        Ok(map)
    }

    /// The action for a key. Ctrl+C cancels while an answer is coming and
    /// quits otherwise; `?` on an empty line opens the help.
    pub fn action(&self, key: &KeyEvent, input_empty: bool, busy: bool) -> Option<KeyAction> {
        binding_in(&self.0, key, input_empty, busy)
    }
}

fn binding_in(
    bindings: &[Binding],
    key: &KeyEvent,
    input_empty: bool,
    busy: bool,
) -> Option<KeyAction> {
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
    let found = bindings.iter().find(|(code, modifiers, _, _)| {
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
