//! Who runs this command: the keyring is unlocked, then the principal is
//! found (a user's token with `--user`, a configured operating-system user, or
//! else the operator who holds the keyring), and every command checks its
//! action against that principal before it touches anything.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use zeroize::Zeroizing;

use crate::auth::{Action, Principal};
use crate::config::Config;
use crate::crypto::Keyring;
use crate::session::Governance;
use crate::store::EncryptedStore;

/// An unlocked home and the principal acting in it.
pub struct Context {
    pub config: Config,
    pub keyring: Arc<Keyring>,
    pub governance: Governance,
    pub principal: Principal,
}

impl Context {
    /// Unlocks the keyring and establishes the principal. `user` is `--user`;
    /// `tenant_named` says whether `--tenant` (or the configuration) named one.
    pub fn open(config: &Config, identity: &Identity, tenant_named: bool) -> anyhow::Result<Self> {
        let keyring = super::admin::unlock(config)?;
        let governance = Governance::open(&config.home, &keyring, config.governance.clone());
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok();
        let mapped = os_user
            .as_ref()
            .and_then(|name| config.os_users.get(name))
            .cloned();
        let principal = match (token(identity)?, mapped) {
            (Some(token), _) => match governance.directory.authenticate(&token) {
                Ok(principal)
                    if identity
                        .user
                        .as_ref()
                        .is_none_or(|user| &principal.name == user || &principal.id == user) =>
                {
                    principal
                }
                Ok(_) => {
                    refuse(&governance, identity, "the token belongs to another user")?;
                    bail!(
                        "the token does not belong to user `{}`",
                        identity.user.as_deref().unwrap_or_default()
                    )
                }
                Err(err) => {
                    refuse(&governance, identity, &err.to_string())?;
                    return Err(err.into());
                }
            },
            (None, Some(mapped)) => governance
                .directory
                .principal(&mapped)
                .with_context(|| format!("operating-system user mapped to `{mapped}`"))?,
            (None, None) => Principal::operator(&config.tenant),
        };
        let mut config = config.clone();
        if !principal.operator {
            if config.tenant != principal.tenant && tenant_named {
                let err = principal
                    .require(Action::Ask, &config.tenant)
                    .expect_err("another tenant is always refused");
                governance.record(
                    &principal,
                    &config.tenant,
                    "tenant",
                    "denied",
                    serde_json::json!({ "reason": err.to_string() }),
                )?;
                return Err(err.into());
            }
            config.tenant = principal.tenant.clone();
        }
        Ok(Self {
            config,
            keyring,
            governance,
            principal,
        })
    }

    /// The tenant this command works in.
    pub fn tenant(&self) -> &str {
        &self.config.tenant
    }

    /// Checks an action in this command's tenant (refusals are audited).
    pub fn require(&self, action: Action) -> anyhow::Result<()> {
        Ok(self
            .governance
            .require(&self.principal, action, &self.config.tenant)?)
    }

    /// Only the keyring holder (keys, tenants, evaluation over a whole tenant).
    pub fn require_operator(&self, what: &str) -> anyhow::Result<()> {
        if self.principal.operator {
            return Ok(());
        }
        self.record(
            what,
            "denied",
            serde_json::json!({ "reason": "operator only" }),
        )?;
        bail!(
            "`{what}` is for the operator who holds the keyring, not for user `{}`",
            self.principal.name
        )
    }

    /// Records one decision in this command's tenant.
    pub fn record(
        &self,
        action: &str,
        outcome: &str,
        payload: serde_json::Value,
    ) -> anyhow::Result<()> {
        Ok(self.governance.record(
            &self.principal,
            &self.config.tenant,
            action,
            outcome,
            payload,
        )?)
    }

    pub fn store(&self) -> anyhow::Result<EncryptedStore> {
        Ok(EncryptedStore::open(
            &self.config.store_dir(),
            self.keyring.clone(),
        )?)
    }

    /// Runs retention once a day, at the start of the commands people use.
    pub fn retention_if_due(&self) -> anyhow::Result<()> {
        let marker = self.config.home.join("gc-last");
        let last = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let now = crate::sealed::now();
        if now < last + 86_400 {
            return Ok(());
        }
        let report = super::people::collect(self, now)?;
        self.governance.record(
            &Principal::operator(&self.config.tenant),
            "",
            "gc",
            "done",
            serde_json::to_value(&report)?,
        )?;
        crate::durable::write_atomic(&marker, now.to_string().as_bytes())
            .with_context(|| format!("writing {}", marker.display()))?;
        Ok(())
    }
}

/// How the command says who runs it.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `--token-file`.
    pub token_file: Option<std::path::PathBuf>,
    /// `--user` on `ask`, `search`: the user the token must belong to.
    pub user: Option<String>,
}

fn refuse(governance: &Governance, identity: &Identity, reason: &str) -> anyhow::Result<()> {
    governance.record_unauthenticated(serde_json::json!({
        "claimed_user": identity.user.as_deref().map(crate::audit::redacted_text),
        "reason": reason,
    }))?;
    Ok(())
}

/// The API token: `--token-file`, else `WARDEN_TOKEN`, else (with `--user`)
/// a hidden prompt; `None` when the command runs without one.
fn token(identity: &Identity) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(path) = &identity.token_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?,
        );
        return Ok(Some(Zeroizing::new(text.trim().to_string())));
    }
    if let Ok(token) = std::env::var("WARDEN_TOKEN") {
        if !token.is_empty() {
            return Ok(Some(Zeroizing::new(token)));
        }
    }
    let Some(user) = &identity.user else {
        return Ok(None);
    };
    if std::io::stdin().is_terminal() {
        return Ok(Some(Zeroizing::new(
            rpassword::prompt_password(format!("API token of {user}: "))
                .context("reading the token")?,
        )));
    }
    bail!("--user {user} needs that user's API token: set WARDEN_TOKEN, pass --token-file, or run in a terminal")
}
