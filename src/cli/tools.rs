//! `warden tools`: the declared tools, a dry run of the policy, and a call
//! under policy from the command line (what an integrator's script or a
//! test does without a model in between).

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Subcommand;

use super::identity::Context;
use crate::auth::Action;
use crate::tools::{PlannedAction, ToolResolution};

#[derive(Subcommand)]
pub enum ToolsAction {
    /// List the declared tools you may use (every tool, for the operator).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Dry run: what policy would do with a call, without running it.
    Test {
        name: String,
        /// The arguments, as a JSON object.
        #[arg(long)]
        args: String,
        /// Decide as this user (the operator and admins only).
        #[arg(long)]
        user: Option<String>,
        /// The user's message the call answers [default: the arguments
        /// themselves, so every value counts as written by the user].
        #[arg(long)]
        message: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Call a tool as yourself, under the same policy as a call the model
    /// proposes: it runs, waits for approval, or is refused.
    Call {
        name: String,
        #[arg(long)]
        args: String,
        #[arg(long)]
        json: bool,
    },
}

fn arguments(text: &str) -> anyhow::Result<serde_json::Value> {
    let value: serde_json::Value =
        serde_json::from_str(text).context("--args is not valid JSON")?;
    if !value.is_object() {
        bail!("--args must be a JSON object");
    }
    Ok(value)
}

pub fn tools(context: &Context, action: ToolsAction) -> anyhow::Result<ExitCode> {
    let governance = &context.governance;
    let registry = &governance.settings.tools;
    match action {
        ToolsAction::List { json } => {
            context.require(Action::Ask)?;
            let specs: Vec<_> = registry.available_to(&context.principal).collect();
            if json {
                println!("{}", serde_json::to_string(&specs)?);
            } else if specs.is_empty() {
                println!(
                    "no tools for {} (declare them in {})",
                    context.principal.name,
                    context.config.home.join(crate::tools::TOOLS_FILE).display()
                );
            } else {
                for spec in specs {
                    println!(
                        "{:<20} {:<9} approval {:<10} roles {}  {}",
                        spec.name,
                        format!("{:?}", spec.risk).to_lowercase(),
                        format!("{:?}", spec.approval).to_lowercase(),
                        spec.roles.join(","),
                        spec.description.trim()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolsAction::Test {
            name,
            args,
            user,
            message,
            json,
        } => {
            let arguments = arguments(&args)?;
            let principal = match user {
                Some(user) => {
                    context.require(Action::Admin)?;
                    let principal = governance.directory.principal(&user)?;
                    governance.require(&context.principal, Action::Admin, &principal.tenant)?;
                    principal
                }
                None => {
                    context.require(Action::Ask)?;
                    context.principal.clone()
                }
            };
            let message = message.unwrap_or_else(|| args.clone());
            let plan = governance.plan_tool_call(&principal, &name, &arguments, &message)?;
            context.record(
                "tools test",
                "done",
                serde_json::json!({ "tool": name, "as": principal.id, "decision": plan.action }),
            )?;
            if json {
                println!("{}", serde_json::to_string(&plan)?);
            } else {
                match &plan.action {
                    PlannedAction::Execute => println!("would run `{name}` now"),
                    PlannedAction::AwaitApproval { approvers_needed } => println!(
                        "would wait for the approval of {approvers_needed} approver(s), then run `{name}`"
                    ),
                    PlannedAction::Refuse { reason } => println!("would refuse: {reason}"),
                }
                println!("  as {} ({})", principal.name, principal.tenant);
                println!("  arguments sent: {}", plan.arguments);
                if !plan.overridden.is_empty() {
                    println!(
                        "  taken from the caller's identity instead of the proposal: {}",
                        plan.overridden.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolsAction::Call { name, args, json } => {
            context.require(Action::Ask)?;
            governance.admit(&context.principal, "tool")?;
            let arguments = arguments(&args)?;
            let resolution = governance.call_tool(&context.principal, &name, &arguments, &args)?;
            let (report, text, code) = match resolution {
                ToolResolution::Executed { report, result } => (report, result, ExitCode::SUCCESS),
                ToolResolution::Pending { report, message } => (report, message, ExitCode::SUCCESS),
                ToolResolution::Refused { report, message } => (report, message, ExitCode::FAILURE),
            };
            if json {
                println!("{}", serde_json::json!({ "report": report, "text": text }));
            } else {
                println!("{text}");
            }
            Ok(code)
        }
    }
}
