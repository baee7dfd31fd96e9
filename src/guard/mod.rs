//! Guards: the checks between the model and the user.
//!
//! `citations` judges whether each sentence of an answer is backed by the
//! passage it cites; `grounding` turns those verdicts into what the user sees
//! under the configured policy. `scan` holds the input, retrieval and output
//! scanners (prompt injection, social engineering, personal data, secrets,
//! code payloads, links). Everything in this module is rules over text: fast,
//! explainable, and never a call back into the model.

pub mod citations;
pub mod grounding;
pub mod scan;
pub mod text;

pub use citations::{
    CitationVerifier, SentenceCheck, SourceText, Support, SupportCheck, Verdict, Verification,
    VerifierSettings,
};
pub use grounding::{apply_policy, CitationPolicy, Grounded, GroundingSettings, Outcome};
