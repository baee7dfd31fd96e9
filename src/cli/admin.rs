//! Commands that manage keys, tenants and the store: `init`, `keys`, `tenants`,
//! `forget`, `docs` and `store verify`, and unlocking the keyring for every
//! command that reads or writes knowledge.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::auth::Action;
use crate::config::Config;
use crate::crypto::keyring::create_key_file;
use crate::crypto::{KdfParams, Keyring, KeyringError, Unlock};
use crate::ingest::forget_document;
use crate::store::{EncryptedStore, KnowledgeStore};

use super::identity::Context;

#[derive(Args)]
pub struct InitArgs {
    /// Argon2id memory for passphrase unlockers, in MiB (at least 8).
    #[arg(long, default_value_t = 64)]
    kdf_memory_mib: u32,
    /// Argon2id passes for passphrase unlockers.
    #[arg(long, default_value_t = 3)]
    kdf_iterations: u32,
}

impl InitArgs {
    fn params(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.kdf_memory_mib.saturating_mul(1024),
            iterations: self.kdf_iterations,
            parallelism: 1,
        }
    }
}

#[derive(Subcommand)]
pub enum KeysAction {
    /// List the unlockers (never key material).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add an unlocker: a new passphrase (WARDEN_NEW_PASSPHRASE or a prompt),
    /// or a key file with --new-key-file (created if missing).
    Add {
        #[arg(long, value_name = "PATH")]
        new_key_file: Option<PathBuf>,
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        kdf: InitArgs,
    },
    /// Remove an unlocker (never the last one).
    Remove { id: String },
    /// Change a passphrase (WARDEN_NEW_PASSPHRASE or a prompt). Without ID, the
    /// only passphrase unlocker.
    Passwd {
        id: Option<String>,
        #[command(flatten)]
        kdf: InitArgs,
    },
}

#[derive(Subcommand)]
pub enum TenantsAction {
    List {
        #[arg(long)]
        json: bool,
    },
    Add {
        name: String,
    },
    /// Erase a tenant: its keys are destroyed, its data deleted.
    Remove {
        name: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum DocsAction {
    /// Override the guard's verdict on a document: allow, fence (untrusted in
    /// the prompt) or quarantine (never retrieved).
    Guard {
        /// Document id, path or source path.
        doc: String,
        #[arg(value_parser = ["allow", "fence", "quarantine"])]
        verdict: String,
    },
}

#[derive(Subcommand)]
pub enum StoreAction {
    /// Authenticate every record; report damage by document.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct ForgetArgs {
    /// Document id, path or source path to erase (in --tenant, else the default tenant).
    #[arg(long, value_name = "ID|PATH", conflicts_with = "user")]
    doc: Option<String>,
    /// A person to erase: account, conversations, review items, audit payloads.
    #[arg(long, value_name = "NAME|ID")]
    user: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

/// Unlocks the keyring with the key file, `WARDEN_PASSPHRASE`, or a prompt.
pub fn unlock(config: &Config) -> anyhow::Result<Arc<Keyring>> {
    let dir = config.keyring_dir();
    if !Keyring::exists(&dir) {
        return Err(KeyringError::Missing { dir }.into());
    }
    let unlock = if let Some(path) = &config.key_file {
        Unlock::KeyFile(path.clone())
    } else if let Some(passphrase) = passphrase_from_env("WARDEN_PASSPHRASE") {
        Unlock::Passphrase(passphrase)
    } else if std::io::stdin().is_terminal() {
        Unlock::Passphrase(Zeroizing::new(
            rpassword::prompt_password(format!("Passphrase for {}: ", config.home.display()))
                .context("reading the passphrase")?,
        ))
    } else {
        bail!(
            "the keyring in {} is locked: set WARDEN_PASSPHRASE, pass --key-file (or key_file in warden.toml), or run in a terminal",
            dir.display()
        );
    };
    Ok(Arc::new(Keyring::unlock(&dir, &unlock)?))
}

fn passphrase_from_env(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Zeroizing::new)
}

/// A new passphrase from `WARDEN_NEW_PASSPHRASE` (or `fallback_env`), else
/// typed twice at a prompt.
fn new_passphrase(fallback_env: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    if let Some(passphrase) = passphrase_from_env("WARDEN_NEW_PASSPHRASE")
        .or_else(|| fallback_env.and_then(passphrase_from_env))
    {
        return Ok(passphrase);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no new passphrase: set WARDEN_NEW_PASSPHRASE or run in a terminal");
    }
    let first = Zeroizing::new(rpassword::prompt_password("New passphrase: ")?);
    let second = Zeroizing::new(rpassword::prompt_password("Repeat it: ")?);
    if first != second {
        bail!("the passphrases differ; nothing was changed");
    }
    Ok(first)
}

pub fn init(config: &Config, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let dir = config.keyring_dir();
    if Keyring::exists(&dir) {
        return Err(KeyringError::Exists { dir }.into());
    }
    let params = args.params();
    params.validate()?;
    let unlock = match &config.key_file {
        Some(path) => {
            if !path.exists() {
                create_key_file(path)?;
                eprintln!(
                    "created key file {}: whoever holds it can read this store; keep it away from the store's disk and back it up",
                    path.display()
                );
            }
            Unlock::KeyFile(path.clone())
        }
        None => Unlock::Passphrase(new_passphrase(Some("WARDEN_PASSPHRASE"))?),
    };
    let keyring = Arc::new(Keyring::create(&dir, &unlock, params, "initial")?);
    EncryptedStore::create(&config.store_dir(), keyring)?;
    println!(
        "created an encrypted knowledge store in {} with tenant `default`",
        config.home.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn keys(context: &Context, action: KeysAction) -> anyhow::Result<ExitCode> {
    context.require_operator("keys")?;
    let keyring = &context.keyring;
    let action_name = match &action {
        KeysAction::List { .. } => "list",
        KeysAction::Add { .. } => "add",
        KeysAction::Remove { .. } => "remove",
        KeysAction::Passwd { .. } => "passwd",
    };
    match action {
        KeysAction::List { json } => {
            let unlockers = keyring.unlockers()?;
            if json {
                println!("{}", serde_json::to_string(&unlockers)?);
            } else {
                for info in unlockers {
                    println!(
                        "{}  {:<10}  created {}  {}",
                        info.id, info.kind, info.created, info.label
                    );
                }
            }
        }
        KeysAction::Add {
            new_key_file,
            label,
            kdf,
        } => {
            let unlock = match new_key_file {
                Some(path) => {
                    if !path.exists() {
                        create_key_file(&path)?;
                    }
                    Unlock::KeyFile(path)
                }
                None => Unlock::Passphrase(new_passphrase(None)?),
            };
            let info = keyring.add_unlocker(&unlock, kdf.params(), &label)?;
            println!("added {} unlocker {}", info.kind, info.id);
        }
        KeysAction::Remove { id } => {
            keyring.remove_unlocker(&id)?;
            println!("removed unlocker {id}");
        }
        KeysAction::Passwd { id, kdf } => {
            let id = match id {
                Some(id) => id,
                None => {
                    let passphrases: Vec<_> = keyring
                        .unlockers()?
                        .into_iter()
                        .filter(|info| info.kind == "passphrase")
                        .collect();
                    match passphrases.as_slice() {
                        [only] => only.id.clone(),
                        [] => bail!("this keyring has no passphrase unlocker"),
                        _ => {
                            bail!("several passphrase unlockers: name one (see `warden keys list`)")
                        }
                    }
                }
            };
            let info = keyring.change_passphrase(&id, new_passphrase(None)?, kdf.params())?;
            println!("passphrase changed (unlocker {} replaces {id})", info.id);
        }
    }
    context.record(
        &format!("keys {action_name}"),
        "done",
        serde_json::json!({}),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn tenants(context: &Context, action: TenantsAction) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    match action {
        TenantsAction::List { json } => {
            context.require(Action::Admin)?;
            let mut rows = Vec::new();
            // A tenant's admin sees only its own tenant.
            let visible = store
                .tenants()?
                .into_iter()
                .filter(|name| context.principal.operator || name == context.tenant());
            context.record("tenants list", "done", serde_json::json!({}))?;
            for name in visible {
                let catalog = store.catalog(&name)?;
                rows.push(serde_json::json!({
                    "name": name,
                    "documents": catalog.documents.len(),
                    "chunks": catalog.total_chunks(),
                }));
            }
            if json {
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for row in rows {
                    println!(
                        "{:<24} {:>6} documents {:>8} chunks",
                        row["name"].as_str().unwrap_or_default(),
                        row["documents"],
                        row["chunks"]
                    );
                }
            }
        }
        TenantsAction::Add { name } => {
            context.require_operator("tenants add")?;
            store.add_tenant(&name)?;
            context.governance.record(
                &context.principal,
                &name,
                "tenants add",
                "done",
                serde_json::json!({}),
            )?;
            println!("added tenant `{name}` with its own key");
        }
        TenantsAction::Remove { name, yes } => {
            context.require_operator("tenants remove")?;
            confirm(yes, &format!("Erase tenant `{name}` and all its documents"))?;
            store.forget_tenant(&name)?;
            context.governance.record(
                &context.principal,
                &name,
                "tenants remove",
                "done",
                serde_json::json!({}),
            )?;
            println!("tenant `{name}` erased: its keys are destroyed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn forget(
    context: &Context,
    args: &ForgetArgs,
    tenant_named: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(user) = &args.user {
        return super::people::forget_user(context, user, args.yes);
    }
    let config = &context.config;
    let store = context.store()?;
    match &args.doc {
        Some(wanted) => {
            context.require(Action::Forget)?;
            let catalog = store.catalog(&config.tenant)?;
            let shown = catalog
                .find(wanted)
                .map_or(wanted.as_str(), |doc| doc.source.as_str());
            confirm(
                args.yes,
                &format!("Erase `{shown}` from tenant `{}`", config.tenant),
            )?;
            let document = forget_document(&store, &config.tenant, wanted)?;
            context.record(
                "forget document",
                "done",
                serde_json::json!({ "document": document.id }),
            )?;
            println!(
                "erased {} ({}) from tenant `{}`: its key is destroyed and its vectors left the index",
                document.source, document.id, config.tenant
            );
        }
        None if tenant_named => {
            context.require_operator("forget --tenant")?;
            confirm(
                args.yes,
                &format!("Erase tenant `{}` and all its documents", config.tenant),
            )?;
            store.forget_tenant(&config.tenant)?;
            context.record("forget tenant", "done", serde_json::json!({}))?;
            println!("tenant `{}` erased: its keys are destroyed", config.tenant);
        }
        None => bail!("say what to forget: --doc <id|path>, --user <name|id>, or --tenant <name> for a whole tenant"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn docs(context: &Context, json: bool) -> anyhow::Result<ExitCode> {
    context.require(Action::Ask)?;
    let store = context.store()?;
    let mut catalog = store.catalog(context.tenant())?;
    // Documents outside the principal's labels are not listed either.
    catalog
        .documents
        .retain(|document| context.principal.labels.admits(&document.labels));
    context.record(
        "docs list",
        "done",
        serde_json::json!({ "documents": catalog.documents.len() }),
    )?;
    if json {
        println!("{}", serde_json::to_string(&catalog.documents)?);
    } else {
        for document in &catalog.documents {
            println!(
                "{}  {:<5} {:>4} chunks  {:<10} {:<40} {}{}",
                document.id,
                document.format,
                document.chunks,
                document.guard,
                document.source,
                document.title,
                if document.labels.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", document.labels.join(","))
                }
            );
        }
        println!(
            "tenant `{}`: {} documents, {} chunks",
            catalog.tenant,
            catalog.documents.len(),
            catalog.total_chunks()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn docs_action(context: &Context, action: DocsAction) -> anyhow::Result<ExitCode> {
    let DocsAction::Guard { doc, verdict } = action;
    context.require(Action::Admin)?;
    let config = &context.config;
    let store = context.store()?;
    let document = crate::ingest::set_document_guard(&store, &config.tenant, &doc, &verdict)?;
    context.record(
        "docs guard",
        "done",
        serde_json::json!({ "document": document.id, "verdict": verdict }),
    )?;
    println!(
        "{} ({}) in tenant `{}` is now `{}`",
        document.source, document.id, config.tenant, document.guard
    );
    Ok(ExitCode::SUCCESS)
}

pub fn store(context: &Context, action: StoreAction) -> anyhow::Result<ExitCode> {
    let StoreAction::Verify { json } = action;
    context.require(Action::Admin)?;
    let store = context.store()?;
    let mut report = store.verify();
    if !context.principal.operator {
        report
            .tenants
            .retain(|tenant| tenant.name == context.tenant());
    }
    context.record(
        "store verify",
        if report.is_intact() {
            "intact"
        } else {
            "damaged"
        },
        serde_json::json!({}),
    )?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        if let Some(error) = &report.manifest_error {
            println!("MANIFEST: {error}");
        }
        for tenant in &report.tenants {
            match &tenant.catalog_error {
                Some(error) => println!("tenant `{}`: catalog: {error}", tenant.name),
                None => println!(
                    "tenant `{}`: {} documents, {} chunks authenticated, {} damaged; index {}",
                    tenant.name,
                    tenant.documents - tenant.damaged.len(),
                    tenant.chunks,
                    tenant.damaged.len(),
                    tenant.index
                ),
            }
            for damaged in &tenant.damaged {
                println!(
                    "  DAMAGED {} ({}): {}",
                    damaged.source, damaged.id, damaged.error
                );
            }
        }
        if !report.unreferenced_files.is_empty() {
            println!(
                "{} leftover file(s) from an interrupted run (removed at the next write)",
                report.unreferenced_files.len()
            );
        }
        println!(
            "{}",
            if report.is_intact() {
                "store verified: every record authenticated"
            } else {
                "store damaged: restore the damaged files from backup, or forget and re-ingest those documents"
            }
        );
    }
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Asks before destroying data; `--yes` (or no terminal) skips the prompt only
/// when given explicitly.
pub(super) fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question}? This cannot be undone; pass --yes to confirm");
    }
    eprint!("{question}? This cannot be undone. [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    if matches!(line.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled; nothing was erased")
    }
}
