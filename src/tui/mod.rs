//! `warden chat`: the terminal UI. `app` holds the state, `ui` draws it,
//! `keys` maps keys to actions; this module runs the loop. The model lives on
//! an engine thread (the UI never blocks while it runs); key presses, ticks
//! and engine events are multiplexed into one loop, which redraws only when
//! something changed. `ratatui::init` restores the terminal on every exit
//! path, panics included.

pub mod app;
pub mod keys;
pub mod ui;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, MouseEventKind};

use crate::auth::Principal;
use crate::governance::History;
use crate::rag::{AnswerEvent, Pipeline};
use crate::session::{Delivered, Governance, Session};

pub use app::{App, Command, Status};

/// What the engine thread reports to the UI.
pub enum EngineEvent {
    Token(String),
    Notice(String),
    Sources(Vec<crate::rag::SourceRef>),
    Done(Box<Delivered>),
    Failed(String),
}

/// Runs the model for the UI: questions in, events out.
fn start_engine(
    principal: Principal,
    pipeline: Pipeline,
    governance: Arc<Governance>,
    events: Sender<EngineEvent>,
) -> (Sender<String>, Arc<AtomicBool>) {
    let (questions, inbox) = channel::<String>();
    let cancel = pipeline.cancel.clone();
    std::thread::spawn(move || {
        let mut session = match Session::new(principal, pipeline, &governance) {
            Ok(session) => session,
            Err(err) => {
                let _ = events.send(EngineEvent::Failed(err.to_string()));
                return;
            }
        };
        for question in inbox {
            session.pipeline.cancel.store(false, Ordering::Relaxed);
            let result = session.ask(&question, &mut |event| {
                let _ = events.send(match event {
                    AnswerEvent::Token(piece) => EngineEvent::Token(piece),
                    AnswerEvent::Notice(notice) => EngineEvent::Notice(notice),
                    AnswerEvent::Sources(sources) => EngineEvent::Sources(sources),
                    AnswerEvent::Done(_) => return,
                });
            });
            let _ = events.send(match result {
                Ok(delivered) => EngineEvent::Done(Box::new(delivered)),
                Err(err) => EngineEvent::Failed(err.to_string()),
            });
        }
    });
    (questions, cancel)
}

/// Runs the chat UI until the user quits.
pub fn run(
    principal: Principal,
    pipeline: Pipeline,
    governance: Arc<Governance>,
    history: History,
    status: Status,
    keys: keys::KeyMap,
    stream_drafts: bool,
) -> anyhow::Result<()> {
    let (events, engine_events) = channel();
    let (questions, cancel) = start_engine(principal.clone(), pipeline, governance, events);
    let mut app = App::new(status);
    app.keys = keys;
    app.stream_drafts = stream_drafts;
    let mut terminal = ratatui::init();
    let _ = ratatui::crossterm::execute!(
        std::io::stdout(),
        ratatui::crossterm::event::EnableMouseCapture
    );
    let result = event_loop(
        &mut terminal,
        &mut app,
        &engine_events,
        &questions,
        &cancel,
        &history,
        &principal,
    );
    let _ = ratatui::crossterm::execute!(
        std::io::stdout(),
        ratatui::crossterm::event::DisableMouseCapture
    );
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    engine_events: &Receiver<EngineEvent>,
    questions: &Sender<String>,
    cancel: &AtomicBool,
    history: &History,
    principal: &Principal,
) -> anyhow::Result<()> {
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal.draw(|frame| ui::render(app, frame))?;
            dirty = false;
        }
        while let Ok(event) = engine_events.try_recv() {
            dirty = true;
            match event {
                EngineEvent::Token(piece) => app.on_token(&piece),
                EngineEvent::Notice(notice) => app.on_notice(notice),
                EngineEvent::Sources(sources) => app.on_sources(sources),
                EngineEvent::Done(delivered) => app.on_done(&delivered),
                EngineEvent::Failed(message) => app.on_failed(message),
            }
        }
        if !event::poll(Duration::from_millis(40))? {
            continue;
        }
        dirty = true;
        match event::read()? {
            Event::Key(key) => match app.on_key(key) {
                Some(Command::Ask(question)) => {
                    if questions.send(question).is_err() {
                        app.on_failed("the answer engine stopped".into());
                    }
                }
                Some(Command::Cancel) => cancel.store(true, Ordering::Relaxed),
                Some(Command::ShowHistory) => match history.turns(&principal.id) {
                    Ok(turns) => {
                        let from = turns.len().saturating_sub(50);
                        app.reopen(turns[from..].to_vec());
                    }
                    Err(err) => app.hint = Some(format!("history: {err}")),
                },
                Some(Command::Quit) | None => {}
            },
            Event::Mouse(mouse) => match mouse.kind {
                MouseEventKind::ScrollUp => app.scroll_back = app.scroll_back.saturating_add(3),
                MouseEventKind::ScrollDown => app.scroll_back = app.scroll_back.saturating_sub(3),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(())
}
