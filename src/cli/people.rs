//! Commands about people and decisions: `users`, `audit`, `review`, `gc`,
//! `export --user` and `forget --user`. Each checks its action against the
//! principal first and leaves an audit record.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use crate::auth::{Action, UserInfo};
use crate::governance::{cutoff, Decision, GcReport, ReviewItem, ReviewStatus};

use super::identity::Context;

#[derive(Subcommand)]
pub enum UsersAction {
    /// List the users of the tenant (all tenants for the operator).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a user to the tenant and print its API token (shown this once).
    Add {
        name: String,
        /// Roles, comma-separated: reader, editor, reviewer, auditor, admin, or
        /// ones defined under [roles] in warden.toml.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// The token stops working after this many days.
        #[arg(long)]
        expires_days: Option<u64>,
    },
    /// Stop a user from doing anything (the token stays on file).
    Disable { name: String },
    /// Let a disabled user act again.
    Enable { name: String },
    /// Issue a new token; the old one stops working at once.
    Rotate {
        name: String,
        #[arg(long)]
        expires_days: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Check every record, the hash chain and the checkpoint; name the first bad record.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Write records as JSON lines (of --tenant when it is named).
    Export {
        /// Only records from this time on: a date (YYYY-MM-DD) or Unix seconds.
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ReviewAction {
    /// List review items of the tenant.
    List {
        /// pending (default), approved, rejected; `--all` for every status.
        #[arg(long, value_enum, default_value = "pending")]
        status: ReviewStatus,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// List tool calls of the tenant waiting for approval (`--all`: every
    /// call that needed one, with its outcome).
    Calls {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one item. Askers may read their own items (a held answer once approved).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve an answer (a held answer is released to its asker), or a tool
    /// call (`t…`: the approval that completes the count runs it, once).
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject an answer or a tool call; a comment is required.
    Reject {
        id: String,
        #[arg(long)]
        comment: String,
    },
}

fn print_token(info: &UserInfo, token: &crate::auth::IssuedToken) {
    println!("{}", token.0.as_str());
    eprintln!(
        "user `{}` ({}) in tenant `{}` with roles {}: the token above is shown once; store it safely{}",
        info.name,
        info.id,
        info.tenant,
        info.roles.join(","),
        info.token_expires_at
            .map(|at| format!(" (expires at Unix time {at})"))
            .unwrap_or_default()
    );
}

pub fn users(context: &Context, action: UsersAction) -> anyhow::Result<ExitCode> {
    let directory = &context.governance.directory;
    // Users are managed by admins of the user's tenant.
    let target_tenant = |name: &str| -> anyhow::Result<String> {
        let user = directory.find(name)?;
        context
            .governance
            .require(&context.principal, Action::Admin, &user.tenant)?;
        Ok(user.tenant)
    };
    match action {
        UsersAction::List { json } => {
            context.require(Action::Admin)?;
            let users: Vec<UserInfo> = directory
                .users()?
                .iter()
                .filter(|user| context.principal.operator || user.tenant == context.tenant())
                .map(UserInfo::from)
                .collect();
            context.record(
                "users list",
                "done",
                serde_json::json!({ "users": users.len() }),
            )?;
            if json {
                println!("{}", serde_json::to_string(&users)?);
            } else {
                for user in &users {
                    println!(
                        "{}  {:<20} tenant {:<16} roles {:<24} {}",
                        user.id,
                        user.name,
                        user.tenant,
                        user.roles.join(","),
                        if user.disabled { "DISABLED" } else { "active" }
                    );
                }
            }
        }
        UsersAction::Add {
            name,
            roles,
            expires_days,
        } => {
            context.require(Action::Admin)?;
            let store = context.store()?;
            if !crate::store::KnowledgeStore::tenants(&store)?
                .iter()
                .any(|tenant| tenant == context.tenant())
            {
                bail!(crate::store::StoreError::UnknownTenant {
                    name: context.tenant().to_string()
                });
            }
            let (info, token) = directory.add(&name, context.tenant(), &roles, expires_days)?;
            context.record(
                "users add",
                "done",
                serde_json::json!({ "user": info.id, "roles": info.roles }),
            )?;
            print_token(&info, &token);
        }
        UsersAction::Disable { name } => {
            let tenant = target_tenant(&name)?;
            let info = directory.set_disabled(&name, true)?;
            context.governance.record(
                &context.principal,
                &tenant,
                "users disable",
                "done",
                serde_json::json!({ "user": info.id }),
            )?;
            println!("user `{}` is disabled", info.name);
        }
        UsersAction::Enable { name } => {
            let tenant = target_tenant(&name)?;
            let info = directory.set_disabled(&name, false)?;
            context.governance.record(
                &context.principal,
                &tenant,
                "users enable",
                "done",
                serde_json::json!({ "user": info.id }),
            )?;
            println!("user `{}` is enabled", info.name);
        }
        UsersAction::Rotate { name, expires_days } => {
            let tenant = target_tenant(&name)?;
            let (info, token) = directory.rotate(&name, expires_days)?;
            context.governance.record(
                &context.principal,
                &tenant,
                "users rotate",
                "done",
                serde_json::json!({ "user": info.id }),
            )?;
            print_token(&info, &token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: `YYYY-MM-DD` (UTC midnight) or Unix seconds.
fn parse_since(text: &str) -> anyhow::Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        bail!("--since {text}: use YYYY-MM-DD or Unix seconds");
    };
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<i64>(),
        month.parse::<i64>(),
        day.parse::<i64>(),
    ) else {
        bail!("--since {text}: use YYYY-MM-DD or Unix seconds");
    };
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        bail!("--since {text}: not a date");
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400) as u64)
}

pub fn audit(
    context: &Context,
    action: AuditAction,
    tenant_named: bool,
) -> anyhow::Result<ExitCode> {
    context.require(Action::Audit)?;
    let log = &context.governance.audit;
    match action {
        AuditAction::Verify { json } => {
            let report = log.verify()?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                match &report.problem {
                    None => println!(
                        "audit log verified: {} records chained and authenticated ({} payloads scrubbed by retention or erasure){}",
                        report.records,
                        report.scrubbed,
                        if report.torn_tail {
                            "; a final line torn by a crash will be dropped"
                        } else {
                            ""
                        }
                    ),
                    Some(problem) => println!(
                        "AUDIT LOG TAMPERED at line {} (record {}): {}",
                        problem.line, problem.expected_seq, problem.message
                    ),
                }
            }
            // The report comes first: a log too damaged to append to must
            // still be verifiable.
            if let Err(err) = context.record(
                "audit verify",
                if report.is_intact() {
                    "intact"
                } else {
                    "tampered"
                },
                serde_json::json!({ "records": report.records }),
            ) {
                eprintln!("warning: this verification could not be recorded: {err:#}");
            }
            Ok(if report.is_intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditAction::Export { since } => {
            let since = since.as_deref().map(parse_since).transpose()?.unwrap_or(0);
            let only_tenant =
                (tenant_named || !context.principal.operator).then(|| context.tenant().to_string());
            let mut written = 0;
            for record in log.records()? {
                if record.time < since
                    || only_tenant
                        .as_ref()
                        .is_some_and(|tenant| &record.tenant != tenant)
                {
                    continue;
                }
                println!("{}", serde_json::to_string(&record)?);
                written += 1;
            }
            context.record(
                "audit export",
                "done",
                serde_json::json!({ "records": written, "since": since }),
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render_item(item: &ReviewItem, show_answer: bool) {
    println!(
        "{}  {}  tenant {}  asked by {}  reasons: {}{}",
        item.id,
        item.status,
        item.tenant,
        item.principal,
        item.reasons.join(", "),
        if item.held { "  (held)" } else { "" }
    );
    println!("  question: {}", item.question);
    if show_answer {
        println!(
            "  answer:   {}",
            item.answer.replace('\n', "\n            ")
        );
    }
    for detail in &item.details {
        println!("  - {detail}");
    }
    if let Some(decision) = &item.decision {
        println!(
            "  {} by {}: {}",
            if decision.approved {
                "approved"
            } else {
                "rejected"
            },
            decision.reviewer,
            decision.comment
        );
    }
}

pub fn review(context: &Context, action: ReviewAction) -> anyhow::Result<ExitCode> {
    let queue = &context.governance.review;
    match action {
        ReviewAction::List { status, all, json } => {
            context.require(Action::Review)?;
            let items: Vec<ReviewItem> = queue
                .items()?
                .into_iter()
                .filter(|item| item.tenant == context.tenant())
                .filter(|item| all || item.status == status)
                .collect();
            context.record(
                "review list",
                "done",
                serde_json::json!({ "items": items.len() }),
            )?;
            if json {
                println!("{}", serde_json::to_string(&items)?);
            } else {
                for item in &items {
                    render_item(item, true);
                }
                println!("{} item(s)", items.len());
            }
        }
        ReviewAction::Calls { all, json } => {
            context.require(Action::Review)?;
            let calls: Vec<_> = context
                .governance
                .approvals
                .items()?
                .into_iter()
                .filter(|call| call.tenant == context.tenant())
                .filter(|call| all || call.status == crate::tools::CallStatus::Pending)
                .collect();
            context.record(
                "review calls",
                "done",
                serde_json::json!({ "calls": calls.len() }),
            )?;
            if json {
                println!("{}", serde_json::to_string(&calls)?);
            } else {
                for call in &calls {
                    render_call(call);
                }
                println!("{} call(s)", calls.len());
            }
        }
        ReviewAction::Show { id, json } if id.starts_with('t') => {
            let call = context.governance.approvals.get(&id)?;
            let reviewer = context
                .principal
                .require(Action::Review, &call.tenant)
                .is_ok();
            if !reviewer && call.principal != context.principal.id {
                context.record("review show", "denied", serde_json::json!({ "call": id }))?;
                return Err(crate::tools::ToolError::UnknownCall(id).into());
            }
            context.record("review show", "done", serde_json::json!({ "call": id }))?;
            if json {
                println!("{}", serde_json::to_string(&call)?);
            } else {
                render_call(&call);
            }
        }
        ReviewAction::Show { id, json } => {
            let item = queue.get(&id)?;
            let reviewer = context
                .principal
                .require(Action::Review, &item.tenant)
                .is_ok();
            let asker = item.principal == context.principal.id;
            if !reviewer && !asker {
                // Not the asker, not a reviewer of that tenant: as if it did not exist.
                context.record("review show", "denied", serde_json::json!({ "item": id }))?;
                return Err(crate::governance::GovernanceError::UnknownReview(id).into());
            }
            let show_answer = reviewer || !item.held || item.status == ReviewStatus::Approved;
            context.record("review show", "done", serde_json::json!({ "item": id }))?;
            if json {
                let mut value = serde_json::to_value(&item)?;
                if !show_answer {
                    value["answer"] = serde_json::Value::String(String::new());
                }
                println!("{value}");
            } else {
                render_item(&item, show_answer);
                if !show_answer {
                    println!(
                        "  the answer is {} by a reviewer",
                        match item.status {
                            ReviewStatus::Pending => "waiting to be approved",
                            _ => "withheld",
                        }
                    );
                }
            }
        }
        ReviewAction::Approve { id, comment } | ReviewAction::Reject { id, comment }
            if comment.len() > 4000 =>
        {
            bail!("review {id}: the comment is over 4000 bytes")
        }
        ReviewAction::Approve { id, comment } if id.starts_with('t') => {
            let call = context
                .governance
                .approve_tool_call(&context.principal, &id, &comment)?;
            println!("tool call {} {}", call.id, call.status);
            if let Some(result) = &call.result {
                println!("  {}", result.chars().take(500).collect::<String>());
            }
        }
        ReviewAction::Approve { id, comment } => decide(context, &id, true, comment)?,
        ReviewAction::Reject { comment, .. } if comment.trim().is_empty() => {
            bail!("say why with --comment when rejecting");
        }
        ReviewAction::Reject { id, comment } if id.starts_with('t') => {
            let call = context
                .governance
                .reject_tool_call(&context.principal, &id, &comment)?;
            println!("tool call {} {}", call.id, call.status);
        }
        ReviewAction::Reject { id, comment } => decide(context, &id, false, comment)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(context: &Context, id: &str, approved: bool, comment: String) -> anyhow::Result<()> {
    let queue = &context.governance.review;
    let item = queue.get(id)?;
    context
        .governance
        .require(&context.principal, Action::Review, &item.tenant)?;
    let item = queue.decide(
        id,
        Decision {
            reviewer: context.principal.id.clone(),
            approved,
            comment: comment.clone(),
            time: crate::sealed::now(),
        },
    )?;
    context.governance.record(
        &context.principal,
        &item.tenant,
        "review",
        &item.status.to_string(),
        serde_json::json!({
            "item": item.id,
            "comment": crate::audit::redacted_text(&comment),
        }),
    )?;
    println!("review item {} {}", item.id, item.status);
    Ok(())
}

/// Applies retention now: conversation turns, review items and audit payloads
/// older than their limits go.
pub fn collect(context: &Context, now: u64) -> anyhow::Result<GcReport> {
    let retention = context.config.governance.retention;
    let governance = &context.governance;
    let mut report = GcReport::default();
    if let Some(before) = cutoff(now, retention.conversation_days) {
        report.conversation_turns = governance.history.purge_before(before)?;
    }
    if let Some(before) = cutoff(now, retention.review_days) {
        report.review_items = governance
            .review
            .remove_where(|item| item.created_at < before)?;
        report.tool_calls = governance
            .approvals
            .remove_where(|call| call.created_at < before)?;
    }
    if let Some(before) = cutoff(now, retention.audit_payload_days) {
        report.audit_payloads = governance
            .audit
            .scrub("retention", |record| record.time < before)?;
    }
    Ok(report)
}

pub fn gc(context: &Context, json: bool) -> anyhow::Result<ExitCode> {
    context.require_operator("gc")?;
    let now = crate::sealed::now();
    let report = collect(context, now)?;
    context.record("gc", "done", serde_json::to_value(&report)?)?;
    let _ = crate::durable::write_atomic(
        &context.config.home.join("gc-last"),
        now.to_string().as_bytes(),
    );
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "retention applied: {} conversation turns, {} review items, {} tool calls, {} audit payloads removed",
            report.conversation_turns, report.review_items, report.tool_calls, report.audit_payloads
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The subject of `export --user` / `forget --user`, checked: admins of the
/// user's tenant, or (for export) the user themself.
fn subject(
    context: &Context,
    wanted: &str,
    self_allowed: bool,
) -> anyhow::Result<crate::auth::User> {
    let user = context.governance.directory.find(wanted)?;
    if self_allowed && user.id == context.principal.id {
        return Ok(user);
    }
    context
        .governance
        .require(&context.principal, Action::Admin, &user.tenant)?;
    Ok(user)
}

pub fn export_user(context: &Context, wanted: &str) -> anyhow::Result<ExitCode> {
    let user = subject(context, wanted, true)?;
    let governance = &context.governance;
    let conversations = governance.history.turns(&user.id)?;
    let reviews: Vec<ReviewItem> = governance
        .review
        .items()?
        .into_iter()
        .filter(|item| item.principal == user.id)
        .collect();
    let calls: Vec<crate::tools::PendingCall> = governance
        .approvals
        .items()?
        .into_iter()
        .filter(|call| call.principal == user.id)
        .collect();
    let audit: Vec<crate::audit::Record> = governance
        .audit
        .records()?
        .into_iter()
        .filter(|record| record.principal == user.id)
        .collect();
    let export = serde_json::json!({
        "user": UserInfo::from(&user),
        "conversations": conversations,
        "review_items": reviews,
        "tool_calls": calls,
        "audit_records": audit,
        "exported_at": crate::sealed::now(),
    });
    governance.record(
        &context.principal,
        &user.tenant,
        "export user",
        "done",
        serde_json::json!({ "user": user.id }),
    )?;
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(ExitCode::SUCCESS)
}

/// What `forget --user` removed.
#[derive(Debug, serde::Serialize)]
pub struct UserErasure {
    pub user: String,
    pub conversation_turns: usize,
    pub review_items: usize,
    pub tool_calls: usize,
    pub audit_payloads: usize,
}

pub fn forget_user(context: &Context, wanted: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let user = subject(context, wanted, false)?;
    super::admin::confirm(
        yes,
        &format!(
            "Erase user `{}`: account, conversations, review items, tool calls and audit payloads",
            user.name
        ),
    )?;
    let governance = &context.governance;
    let erasure = UserErasure {
        user: user.id.clone(),
        conversation_turns: governance.history.forget(&user.id)?,
        review_items: governance
            .review
            .remove_where(|item| item.principal == user.id)?,
        tool_calls: governance
            .approvals
            .remove_where(|call| call.principal == user.id)?,
        audit_payloads: governance
            .audit
            .scrub("erasure", |record| record.principal == user.id)?,
    };
    governance.limiter.forget(&user.id)?;
    governance.call_log.forget(&user.id)?;
    governance.directory.remove(&user.id)?;
    governance.record(
        &context.principal,
        &user.tenant,
        "forget user",
        "done",
        serde_json::to_value(&erasure)?,
    )?;
    println!(
        "erased user {}: account removed, {} conversation turns, {} review items and {} tool calls deleted, {} audit payloads scrubbed (the chain still verifies)",
        user.id, erasure.conversation_turns, erasure.review_items, erasure.tool_calls, erasure.audit_payloads
    );
    Ok(ExitCode::SUCCESS)
}

fn render_call(call: &crate::tools::PendingCall) {
    println!(
        "{}  {}  {} asked `{}` ({:?}), {} of {} approval(s)",
        call.id,
        call.status,
        call.principal_name,
        call.tool,
        call.risk,
        call.approvals.len(),
        call.approvers_needed
    );
    println!("  arguments: {}", call.arguments);
    println!("  question:  {}", call.question.replace('\n', " "));
    if let Some(result) = &call.result {
        println!(
            "  result:    {}",
            result.chars().take(300).collect::<String>()
        );
    }
}
