//! The chat screen's state and what keys and engine events do to it. Pure:
//! no terminal, no threads; `ui::render` draws it and `tui::run` feeds it.

use crate::guard::{Outcome, Verdict, Verification};
use crate::rag::SourceRef;

use super::keys::{KeyAction, KeyMap};

/// How a turn stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnState {
    /// The draft is streaming in (shown dimmed: not verified yet).
    Streaming,
    Done,
    Cancelled,
    Failed,
}

/// One question and its answer.
#[derive(Debug, Clone)]
pub struct Turn {
    pub question: String,
    /// The draft while streaming; the verified answer once done.
    pub answer: String,
    pub state: TurnState,
    pub outcome: Option<Outcome>,
    pub sources: Vec<SourceRef>,
    pub verification: Option<Verification>,
    /// Guard findings and notices, one short line each.
    pub notices: Vec<String>,
    pub review: Option<String>,
    /// Draft tokens generated so far (shown as progress when drafts are hidden).
    pub draft_tokens: usize,
}

impl Turn {
    pub fn new(question: &str) -> Self {
        Self {
            question: question.to_string(),
            answer: String::new(),
            state: TurnState::Streaming,
            outcome: None,
            sources: Vec::new(),
            verification: None,
            notices: Vec::new(),
            review: None,
            draft_tokens: 0,
        }
    }

    /// `(supported, unsupported)` claim counts of the verified draft.
    pub fn verdict_counts(&self) -> (usize, usize) {
        let Some(verification) = &self.verification else {
            return (0, 0);
        };
        let supported = verification.count(Verdict::Supported);
        let unsupported = verification
            .sentences
            .iter()
            .filter(|sentence| !sentence.is_grounded())
            .count();
        (supported, unsupported)
    }
}

/// The status bar.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub user: String,
    pub tenant: String,
    pub model: String,
    /// How the model was loaded (architecture, hash check and load times), for `/model`.
    pub model_detail: String,
    /// The generation models installed here (`/model` lists them).
    pub installed_models: Vec<String>,
    pub documents: usize,
    pub chunks: usize,
    pub tokens_per_s: Option<f64>,
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ask(String),
    Cancel,
    Quit,
    ShowHistory,
}

/// The slash commands, for `/help` and completion.
pub const SLASH_COMMANDS: &[(&str, &str)] = &[
    ("/help", "keys and commands"),
    ("/sources", "toggle; /sources N: passage"),
    ("/new", "new conversation"),
    ("/history", "reopen earlier turns"),
    ("/retry", "ask again"),
    ("/tenant", "your tenant"),
    ("/model", "models installed"),
    ("/copy", "last answer as text"),
    ("/quit", "leave"),
];

#[derive(Debug, Clone, Default)]
pub struct App {
    pub turns: Vec<Turn>,
    pub input: String,
    pub input_history: Vec<String>,
    history_position: Option<usize>,
    /// Lines scrolled up from the bottom of the conversation.
    pub scroll_back: u16,
    pub show_help: bool,
    pub show_sources: bool,
    /// The source whose passage is shown in full (`/sources N`).
    pub expanded_source: Option<usize>,
    pub status: Status,
    /// One line under the input (errors, completions, hints).
    pub hint: Option<String>,
    pub quit: bool,
    pub keys: KeyMap,
    /// Show the unverified draft while it streams (the `annotate` policy);
    /// under `strict` and `strip` nothing unverified is shown, only progress.
    pub stream_drafts: bool,
}

impl App {
    pub fn new(status: Status) -> Self {
        Self {
            show_sources: true,
            status,
            ..Self::default()
        }
    }

    /// An answer is on its way (a cancelled one until its verdict arrives).
    pub fn busy(&self) -> bool {
        self.turns.last().is_some_and(|turn| {
            turn.state == TurnState::Streaming
                || (turn.state == TurnState::Cancelled && turn.outcome.is_none())
        })
    }

    /// Handles one key; returns what the event loop must do, if anything.
    pub fn on_key(&mut self, key: ratatui::crossterm::event::KeyEvent) -> Option<Command> {
        let action = self.keys.action(&key, self.input.is_empty(), self.busy());
        if self.show_help && action != Some(KeyAction::Quit) {
            self.show_help = false;
            return None;
        }
        match action? {
            KeyAction::Quit => {
                self.quit = true;
                Some(Command::Quit)
            }
            KeyAction::Cancel => {
                let streaming = self
                    .turns
                    .last()
                    .is_some_and(|turn| turn.state == TurnState::Streaming);
                streaming.then(|| {
                    self.on_cancelled();
                    Command::Cancel
                })
            }
            KeyAction::Help => {
                self.show_help = true;
                None
            }
            KeyAction::Send => self.submit(),
            KeyAction::Newline => {
                self.input.push('\n');
                None
            }
            KeyAction::Backspace => {
                self.input.pop();
                None
            }
            KeyAction::Complete => {
                self.complete();
                None
            }
            KeyAction::HistoryPrevious => {
                self.recall(true);
                None
            }
            KeyAction::HistoryNext => {
                self.recall(false);
                None
            }
            KeyAction::ScrollUp => {
                self.scroll_back = self.scroll_back.saturating_add(5);
                None
            }
            KeyAction::ScrollDown => {
                self.scroll_back = self.scroll_back.saturating_sub(5);
                None
            }
            KeyAction::Type(c) => {
                self.input.push(c);
                self.hint = None;
                None
            }
        }
    }

    fn recall(&mut self, older: bool) {
        if self.input_history.is_empty() {
            return;
        }
        let last = self.input_history.len() - 1;
        let position = match (self.history_position, older) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(0), true) => Some(0),
            (Some(at), true) => Some(at - 1),
            (Some(at), false) if at >= last => None,
            (Some(at), false) => Some(at + 1),
        };
        self.history_position = position;
        self.input = position
            .map(|at| self.input_history[at].clone())
            .unwrap_or_default();
    }

    fn complete(&mut self) {
        if !self.input.starts_with('/') {
            return;
        }
        let matches: Vec<&str> = SLASH_COMMANDS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| name.starts_with(self.input.trim()))
            .collect();
        match matches.as_slice() {
            [only] => self.input = only.to_string(),
            [] => self.hint = Some("no such command; /help lists them".into()),
            many => self.hint = Some(many.join("  ")),
        }
    }

    fn submit(&mut self) -> Option<Command> {
        let text = self.input.trim().to_string();
        if text.is_empty() {
            return None;
        }
        self.input.clear();
        self.history_position = None;
        if self.input_history.last() != Some(&text) {
            self.input_history.push(text.clone());
        }
        if text.starts_with('/') {
            return self.slash(&text);
        }
        if self.busy() {
            self.hint = Some("an answer is still coming: Esc cancels it".into());
            return None;
        }
        self.hint = None;
        self.scroll_back = 0;
        self.turns.push(Turn::new(&text));
        Some(Command::Ask(text))
    }

    fn slash(&mut self, text: &str) -> Option<Command> {
        match text.split_whitespace().next().unwrap_or_default() {
            "/help" => self.show_help = true,
            "/sources" => match text.split_whitespace().nth(1).map(str::parse::<usize>) {
                Some(Ok(number)) => {
                    self.show_sources = true;
                    self.expanded_source = Some(number);
                }
                Some(Err(_)) => self.hint = Some("/sources N shows source N's passage".into()),
                None => {
                    self.expanded_source = None;
                    self.show_sources = !self.show_sources;
                }
            },
            "/new" if !self.busy() => {
                self.turns.clear();
                self.scroll_back = 0;
            }
            "/history" => return Some(Command::ShowHistory),
            "/retry" => {
                let last = self.turns.last().map(|turn| turn.question.clone());
                if let Some(question) = last.filter(|_| !self.busy()) {
                    self.turns.push(Turn::new(&question));
                    return Some(Command::Ask(question));
                }
            }
            "/tenant" => {
                self.hint = Some(format!(
                    "tenant `{}` (start `warden chat --tenant NAME` for another)",
                    self.status.tenant
                ))
            }
            "/model" => {
                let others: Vec<&str> = self
                    .status
                    .installed_models
                    .iter()
                    .map(String::as_str)
                    .filter(|name| *name != self.status.model)
                    .collect();
                self.hint = Some(if others.is_empty() {
                    format!(
                        "model `{}` ({})",
                        self.status.model, self.status.model_detail
                    )
                } else {
                    format!(
                        "model `{}` ({}); also installed: {} (start `warden chat --model NAME` for another)",
                        self.status.model,
                        self.status.model_detail,
                        others.join(", ")
                    )
                })
            }
            "/copy" => {
                self.hint = Some(match self.turns.last() {
                    Some(turn) => format!("last answer: {}", turn.answer.replace('\n', " ")),
                    None => "nothing to copy yet".into(),
                })
            }
            "/quit" => {
                self.quit = true;
                return Some(Command::Quit);
            }
            other => self.hint = Some(format!("unknown command {other}: /help lists them")),
        }
        None
    }

    /// A draft token arrived.
    pub fn on_token(&mut self, piece: &str) {
        let show = self.stream_drafts;
        if let Some(turn) = self.turns.last_mut() {
            if turn.state == TurnState::Streaming {
                turn.draft_tokens += 1;
                if show {
                    turn.answer.push_str(piece);
                }
            }
        }
    }

    pub fn on_notice(&mut self, notice: String) {
        if let Some(turn) = self.turns.last_mut() {
            turn.notices.push(notice);
        }
    }

    pub fn on_sources(&mut self, sources: Vec<SourceRef>) {
        if let Some(turn) = self.turns.last_mut() {
            turn.sources = sources;
        }
    }

    /// The verified answer replaces the draft.
    pub fn on_done(&mut self, delivered: &crate::session::Delivered) {
        let answer = &delivered.answer;
        if let Some(turn) = self.turns.last_mut() {
            let cancelled = turn.state == TurnState::Cancelled;
            turn.answer = answer.answer.clone();
            turn.outcome = Some(answer.outcome);
            turn.sources = if delivered.held {
                Vec::new()
            } else {
                answer.sources.clone()
            };
            turn.verification = answer.verification.clone();
            turn.review = delivered.review_id.clone();
            for flag in &answer.guard {
                if flag.flag.action >= crate::guard::scan::Action::Flag {
                    turn.notices.push(format!("guard: {}", flag.flag.reason));
                }
            }
            turn.state = if cancelled {
                TurnState::Cancelled
            } else {
                TurnState::Done
            };
        }
        if let Some(stats) = &answer.timings.generation {
            self.status.tokens_per_s = Some(stats.generation_tokens_per_s);
        }
    }

    /// `/history`: the user's earlier turns replace the screen's conversation.
    pub fn reopen(&mut self, earlier: Vec<crate::governance::Turn>) {
        if self.busy() {
            self.hint = Some("an answer is still coming: Esc cancels it".into());
            return;
        }
        if earlier.is_empty() {
            self.hint = Some("no earlier conversation is kept".into());
            return;
        }
        self.hint = Some(format!(
            "reopened {} earlier turns (kept encrypted, under retention)",
            earlier.len()
        ));
        self.turns = earlier
            .into_iter()
            .map(|kept| Turn {
                question: kept.question,
                answer: kept.answer,
                state: TurnState::Done,
                outcome: serde_json::from_value(serde_json::Value::String(kept.outcome)).ok(),
                sources: Vec::new(),
                verification: None,
                notices: Vec::new(),
                review: kept.review_id,
                draft_tokens: 0,
            })
            .collect();
        self.scroll_back = 0;
    }

    pub fn on_failed(&mut self, message: String) {
        if let Some(turn) = self.turns.last_mut() {
            turn.state = TurnState::Failed;
            turn.answer = message;
        }
    }

    /// Esc while streaming: the draft stops; the verdict still arrives.
    pub fn on_cancelled(&mut self) {
        if let Some(turn) = self.turns.last_mut() {
            if turn.state == TurnState::Streaming {
                turn.state = TurnState::Cancelled;
                turn.notices.push("cancelled".into());
            }
        }
    }
}
