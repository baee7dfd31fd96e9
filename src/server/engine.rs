//! One thread owns the language model; HTTP handlers hand it jobs through a
//! bounded queue. A full queue is refused at once (429 with `Retry-After`)
//! rather than letting latency grow without bound. A job whose client went
//! away (its event receiver dropped) stops generating at the next token.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use crate::auth::Principal;
use crate::index::Embedder;
use crate::rag::{AnswerEvent, AskSettings, Pipeline};
use crate::session::{Delivered, Governance, Session, SessionError};
use crate::store::KnowledgeStore;

/// Per-request changes to the configured settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
}

/// What a job reports back.
pub enum JobEvent {
    /// A notice, or a draft token (only forwarded where drafts may be shown).
    Notice(String),
    Done(Box<Result<Delivered, SessionError>>),
}

pub struct Job {
    pub principal: Principal,
    pub question: String,
    pub overrides: Overrides,
    pub events: UnboundedSender<JobEvent>,
}

/// Every answer slot is taken.
#[derive(Debug)]
pub struct QueueFull;

/// The handle HTTP handlers hold.
pub struct Engine {
    jobs: SyncSender<Job>,
    /// Jobs queued or running.
    pub in_flight: Arc<AtomicUsize>,
    /// Answers stopped because their client went away.
    pub cancelled: Arc<AtomicUsize>,
    pub capacity: usize,
}

impl Engine {
    /// Starts the model thread with `pipeline` (the model loaded once).
    pub fn start(
        pipeline: Pipeline,
        store: Arc<dyn KnowledgeStore>,
        embedder: Arc<Embedder>,
        governance: Arc<Governance>,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(capacity.max(1));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = in_flight.clone();
        let cancelled = Arc::new(AtomicUsize::new(0));
        let cancelled_count = cancelled.clone();
        let base = pipeline.settings.clone();
        std::thread::Builder::new()
            .name("warden-engine".into())
            .spawn(move || {
                let mut pipeline = pipeline;
                for job in queue {
                    let (returned, was_cancelled) =
                        run(pipeline, job, &store, &embedder, &governance, &base);
                    pipeline = returned;
                    if was_cancelled {
                        cancelled_count.fetch_add(1, Ordering::SeqCst);
                    }
                    counter.fetch_sub(1, Ordering::SeqCst);
                }
            })?;
        Ok(Self {
            jobs,
            in_flight,
            cancelled,
            capacity: capacity.max(1),
        })
    }

    /// Queues a job, or says the queue is full (the job is dropped).
    pub fn submit(&self, job: Job) -> Result<(), QueueFull> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Err(QueueFull)
            }
        }
    }
}

fn settings_for(base: &AskSettings, overrides: &Overrides) -> AskSettings {
    let mut settings = base.clone();
    if let Some(max_tokens) = overrides.max_tokens {
        settings.max_tokens = max_tokens.clamp(1, base.max_tokens.max(1) * 4);
    }
    if let Some(temperature) = overrides.temperature {
        settings.sampling.temperature = temperature;
    }
    if let Some(top_p) = overrides.top_p {
        settings.sampling.top_p = Some(top_p);
    }
    if let Some(seed) = overrides.seed {
        settings.sampling.seed = seed;
    }
    settings
}

/// Runs one job and hands the pipeline back, with whether it was cancelled.
fn run(
    mut pipeline: Pipeline,
    job: Job,
    store: &Arc<dyn KnowledgeStore>,
    embedder: &Arc<Embedder>,
    governance: &Governance,
    base: &AskSettings,
) -> (Pipeline, bool) {
    // The client may have left while the job waited.
    if job.events.is_closed() {
        return (pipeline, true);
    }
    pipeline.settings = settings_for(base, &job.overrides);
    let cancel = Arc::new(AtomicBool::new(false));
    pipeline.cancel = cancel.clone();
    let mut session = match Session::bind(
        job.principal,
        pipeline,
        store.clone(),
        embedder.clone(),
        governance,
    ) {
        Ok(session) => session,
        Err((err, pipeline)) => {
            let _ = job.events.send(JobEvent::Done(Box::new(Err(err))));
            return (pipeline, false);
        }
    };
    let events = job.events.clone();
    let result = session.ask(&job.question, &mut |event| {
        let sent = match event {
            AnswerEvent::Notice(notice) => events.send(JobEvent::Notice(notice)).is_ok(),
            _ => !events.is_closed(),
        };
        if !sent {
            cancel.store(true, Ordering::Relaxed);
        }
    });
    let _ = job.events.send(JobEvent::Done(Box::new(result)));
    (session.into_pipeline(), cancel.load(Ordering::Relaxed))
}
