//! Agent tools under policy. A deployment declares its tools in
//! `<home>/tools.toml`: what each does, the JSON Schema of its arguments, its
//! target (an HTTP endpoint of the integrator's API with its own credential,
//! or a built-in), its risk, who may call it, its limits, whether a person
//! must approve it, and which arguments come from the caller's identity
//! rather than from the model.
//!
//! Nothing here trusts the model. A call is only ever proposed from the
//! user's own message (`propose`: the proposal prompt holds the question and
//! the tool list, never a retrieved passage or a tool result), and every
//! proposal passes `policy` — schema, role, bound arguments, limits, rate,
//! the provenance of each argument — before it is executed (`execute`),
//! queued for approval (`approvals`) or refused with a reason the user sees.
//! Every decision is audited by the caller.

pub mod approvals;
pub mod execute;
pub mod policy;
pub mod propose;
pub mod schema;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use approvals::{ApprovalQueue, CallLog, CallStatus, PendingCall};
pub use policy::{evaluate, Plan, PlannedAction};
pub use propose::{parse_proposal, ProposedCall};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot read the tool declarations {path}: {message}")]
    Declarations { path: String, message: String },
    #[error("tool `{tool}`: {message}")]
    Invalid { tool: String, message: String },
    #[error("no tool call `{0}`")]
    UnknownCall(String),
    #[error("tool call {id} is already {status}")]
    AlreadyDecided { id: String, status: CallStatus },
    #[error("{approver} may not approve tool call {id}: {reason}")]
    NotAnApprover {
        approver: String,
        id: String,
        reason: String,
    },
    #[error(transparent)]
    Sealed(#[from] crate::sealed::SealedError),
    #[error("{0}")]
    Random(String),
}

/// How much harm a call can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Reads data the caller may see.
    Read,
    /// Changes something.
    Write,
    /// Moves money.
    Financial,
}

/// Who must agree before a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    #[default]
    None,
    /// One approver.
    Human,
    /// Two different approvers.
    TwoPeople,
}

impl Approval {
    pub fn approvers_needed(self) -> usize {
        match self {
            Approval::None => 0,
            Approval::Human => 1,
            Approval::TwoPeople => 2,
        }
    }
}

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Target {
    /// POSTs the arguments as JSON to the integrator's endpoint.
    Http {
        url: String,
        /// Environment variable holding the bearer token for this endpoint
        /// (never written in the declarations).
        #[serde(default)]
        credential_env: Option<String>,
    },
    /// `echo`: answers with the arguments it was given (for trying policies).
    Builtin(String),
    /// Answers with this fixed text (for trying policies and red-teaming).
    Reply(String),
}

/// Which identity field a bound argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// The user's name (`warden users add <name>`).
    User,
    /// The user's id.
    UserId,
    Tenant,
}

/// Bounds on a numeric argument.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One declared tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    #[serde(skip_deserializing)]
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (the subset `schema` enforces).
    pub parameters: serde_json::Value,
    pub target: Target,
    pub risk: Risk,
    /// Roles that may call it (none: nobody but the operator).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub approval: Approval,
    /// Roles that may approve its calls.
    #[serde(default = "default_approvers")]
    pub approvers: Vec<String>,
    /// Argument → identity field; the model's value is overridden.
    #[serde(default)]
    pub bound: BTreeMap<String, Binding>,
    /// Argument → numeric bounds.
    #[serde(default)]
    pub limits: BTreeMap<String, Bounds>,
    /// Calls per hour per user.
    #[serde(default)]
    pub calls_per_hour: Option<u32>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_approvers() -> Vec<String> {
    vec!["reviewer".into(), "admin".into()]
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl ToolSpec {
    /// A call that changes something is never retried.
    pub fn idempotent(&self) -> bool {
        self.risk == Risk::Read
    }
}

/// Every declared tool, checked once when loaded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolRegistry {
    pub tools: BTreeMap<String, ToolSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declarations {
    #[serde(default)]
    tools: BTreeMap<String, ToolSpec>,
}

/// The file a home declares its tools in.
pub const TOOLS_FILE: &str = "tools.toml";

impl ToolRegistry {
    /// Reads `path`; no file means no tools.
    pub fn load(path: &Path) -> Result<Self, ToolError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(err) => {
                return Err(ToolError::Declarations {
                    path: path.display().to_string(),
                    message: err.to_string(),
                })
            }
        };
        Self::parse(&text).map_err(|err| match err {
            ToolError::Declarations { message, .. } => ToolError::Declarations {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Self, ToolError> {
        let declarations: Declarations =
            toml::from_str(text).map_err(|err| ToolError::Declarations {
                path: String::new(),
                message: err.to_string(),
            })?;
        let mut tools = BTreeMap::new();
        for (name, mut spec) in declarations.tools {
            let invalid = |message: String| ToolError::Invalid {
                tool: name.clone(),
                message,
            };
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(invalid(
                    "a tool name is 1–64 letters, digits, _ or -".into(),
                ));
            }
            schema::check_schema(&spec.parameters).map_err(invalid)?;
            let properties = spec.parameters.get("properties");
            for argument in spec.bound.keys().chain(spec.limits.keys()) {
                if properties.and_then(|p| p.get(argument)).is_none() {
                    return Err(invalid(format!(
                        "`{argument}` is bound or limited but not among the parameters"
                    )));
                }
            }
            if let Target::Builtin(builtin) = &spec.target {
                if !execute::BUILTINS.contains(&builtin.as_str()) {
                    return Err(invalid(format!(
                        "unknown built-in `{builtin}` (known: {})",
                        execute::BUILTINS.join(", ")
                    )));
                }
            }
            if let Target::Http { url, .. } = &spec.target {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(format!("`{url}` is not an http(s) URL")));
                }
            }
            if spec.approval != Approval::None && spec.approvers.is_empty() {
                return Err(invalid(
                    "an approval needs at least one approver role".into(),
                ));
            }
            spec.name = name.clone();
            tools.insert(name, spec);
        }
        Ok(Self { tools })
    }

    pub fn get(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.get(name)
    }

    /// The tools `principal` may call (the operator: all).
    pub fn available_to<'a>(
        &'a self,
        principal: &'a crate::auth::Principal,
    ) -> impl Iterator<Item = &'a ToolSpec> + 'a {
        self.tools
            .values()
            .filter(|spec| policy::may_call(spec, principal))
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}

/// What became of a proposed call, as the answer reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolReport {
    pub tool: String,
    /// `executed`, `pending`, `refused` or `failed`.
    pub decision: String,
    /// What was (or would be) sent, after binding.
    pub arguments: serde_json::Value,
    /// Bound arguments whose proposed value was replaced.
    pub overridden: Vec<String>,
    pub reason: Option<String>,
    /// The call's id (executed or waiting for approval).
    pub call_id: Option<String>,
}

/// How the read path hands a proposed call to whoever holds the policy,
/// the identity and the approval queue (the session).
pub trait ToolHandler {
    /// The tools the caller may use (none: no proposal is asked for).
    fn available(&self) -> Vec<ToolSpec>;
    /// Decides on a proposal and carries the decision out.
    fn handle(&mut self, call: &ProposedCall, user_message: &str) -> ToolResolution;
}

pub enum ToolResolution {
    /// It ran; `result` is its untrusted answer.
    Executed { report: ToolReport, result: String },
    /// Waiting for approval; `message` tells the user.
    Pending { report: ToolReport, message: String },
    /// Refused or failed; `message` says why.
    Refused { report: ToolReport, message: String },
}
