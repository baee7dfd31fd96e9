//! Who is asking, and what they may do: principals, roles, API tokens.
//!
//! A user belongs to exactly one tenant and holds roles; a role grants actions
//! (`ask`, `ingest`, `forget`, `review`, `audit`, `admin`) and access labels.
//! A document is visible to a principal when it is in the principal's tenant
//! and every access label on it is one the principal holds; unlabelled
//! documents are visible to the whole tenant. Retrieval applies that scope
//! inside the vector search (see `rag::retrieval`); every other action is
//! checked where it starts, with [`Principal::require`].
//!
//! Tokens are 256 random bits, shown once, stored only as an HMAC-SHA256 under
//! a key derived from the keyring, compared in constant time, and may expire.
//! Identity never comes from a request field: a token, a configured mapping of
//! operating-system users, or the keyring itself (the operator, who can decrypt
//! everything anyway and is recorded as `operator`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::crypto::{Keyring, SecretKey};
use crate::sealed::{self, SealedError};

/// Labels that change how a document is used, not who may read it.
pub const BEHAVIOUR_LABELS: &[&str] = &["no-verbatim"];

/// The principal id recorded for the keyring holder.
pub const OPERATOR: &str = "operator";

const TOKEN_PREFIX: &str = "wdn_";
const USERS_PURPOSE: &str = "users";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown user `{0}` (see `warden users list`)")]
    UnknownUser(String),
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("`{0}` is not a valid user name: use 1 to 63 letters, digits, `.`, `-` or `_`")]
    BadName(String),
    #[error("unknown role `{0}`; roles are {1}")]
    UnknownRole(String, String),
    #[error("the token is not valid")]
    BadToken,
    #[error("user `{0}` is disabled")]
    Disabled(String),
    #[error("the token of user `{0}` has expired; an admin can issue a new one with `warden users rotate`")]
    Expired(String),
    #[error("`{principal}` may not {action} in tenant `{tenant}`")]
    Denied {
        principal: String,
        action: Action,
        tenant: String,
    },
    #[error("`{principal}` belongs to tenant `{own}` and can never act in tenant `{asked}`")]
    OtherTenant {
        principal: String,
        own: String,
        asked: String,
    },
    #[error("`{principal}` may not grant labels it does not hold: {labels}")]
    LabelsNotHeld { principal: String, labels: String },
    #[error(transparent)]
    Sealed(#[from] SealedError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// Something a principal may be allowed to do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Ask questions and search (within the principal's labels).
    Ask,
    /// Add or replace documents.
    Ingest,
    /// Erase documents.
    Forget,
    /// Work the review queue.
    Review,
    /// Verify and export the audit log.
    Audit,
    /// Manage users, tenants, guards, retention; export and erase a person's data.
    Admin,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Ask,
        Action::Ingest,
        Action::Forget,
        Action::Review,
        Action::Audit,
        Action::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Ask => "ask",
            Action::Ingest => "ingest",
            Action::Forget => "forget",
            Action::Review => "review",
            Action::Audit => "audit",
            Action::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a role grants. `labels = ["*"]` means every label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// The built-in roles; `[roles.<name>]` in warden.toml adds roles or replaces these.
pub fn default_roles() -> BTreeMap<String, RoleSpec> {
    let role = |labels: &[&str], actions: &[Action]| RoleSpec {
        labels: labels.iter().map(|label| label.to_string()).collect(),
        actions: actions.to_vec(),
    };
    BTreeMap::from([
        ("reader".to_string(), role(&[], &[Action::Ask])),
        (
            "editor".to_string(),
            role(&["*"], &[Action::Ask, Action::Ingest, Action::Forget]),
        ),
        (
            "reviewer".to_string(),
            role(&["*"], &[Action::Ask, Action::Review]),
        ),
        ("auditor".to_string(), role(&[], &[Action::Audit])),
        ("admin".to_string(), role(&["*"], &Action::ALL)),
    ])
}

/// Which access labels a principal holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LabelScope {
    All,
    Only(BTreeSet<String>),
}

impl LabelScope {
    /// Whether a document with `labels` is visible: every access label held.
    pub fn admits(&self, labels: &[String]) -> bool {
        match self {
            LabelScope::All => true,
            LabelScope::Only(held) => labels
                .iter()
                .filter(|label| !BEHAVIOUR_LABELS.contains(&label.as_str()))
                .all(|label| held.contains(label)),
        }
    }
}

/// What a search may see: one tenant, some labels. Built only from a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub tenant: String,
    pub labels: LabelScope,
}

impl Scope {
    /// Everything in `tenant` (the operator, benchmarks and evaluation).
    pub fn whole_tenant(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            labels: LabelScope::All,
        }
    }
}

/// An authenticated actor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// User id, or [`OPERATOR`].
    pub id: String,
    pub name: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub actions: BTreeSet<Action>,
    pub labels: LabelScope,
    /// The keyring holder: every action in every tenant.
    pub operator: bool,
}

impl Principal {
    /// The keyring holder working in `tenant`.
    pub fn operator(tenant: &str) -> Self {
        Self {
            id: OPERATOR.to_string(),
            name: OPERATOR.to_string(),
            tenant: tenant.to_string(),
            roles: vec!["admin".to_string()],
            actions: Action::ALL.into_iter().collect(),
            labels: LabelScope::All,
            operator: true,
        }
    }

    /// Checks that this principal may do `action` in `tenant`.
    pub fn require(&self, action: Action, tenant: &str) -> Result<(), AuthError> {
        if !self.operator && tenant != self.tenant {
            return Err(AuthError::OtherTenant {
                principal: self.name.clone(),
                own: self.tenant.clone(),
                asked: tenant.to_string(),
            });
        }
        if !self.actions.contains(&action) {
            return Err(AuthError::Denied {
                principal: self.name.clone(),
                action,
                tenant: tenant.to_string(),
            });
        }
        Ok(())
    }

    /// What this principal's searches may see.
    pub fn scope(&self) -> Scope {
        Scope {
            tenant: self.tenant.clone(),
            labels: self.labels.clone(),
        }
    }

    /// Refuses labels (on ingested documents) that this principal does not hold.
    pub fn require_labels(&self, labels: &[String]) -> Result<(), AuthError> {
        if self.labels.admits(labels) {
            return Ok(());
        }
        let LabelScope::Only(held) = &self.labels else {
            return Ok(());
        };
        let missing: Vec<&str> = labels
            .iter()
            .map(String::as_str)
            .filter(|label| !held.contains(*label) && !BEHAVIOUR_LABELS.contains(label))
            .collect();
        Err(AuthError::LabelsNotHeld {
            principal: self.name.clone(),
            labels: missing.join(", "),
        })
    }
}

/// A user as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created_at: u64,
    /// HMAC-SHA256 of the token's secret, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub token_hash: String,
    pub token_created_at: u64,
    pub token_expires_at: Option<u64>,
}

/// A user as listed: no hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub id: String,
    pub name: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created_at: u64,
    pub token_created_at: u64,
    pub token_expires_at: Option<u64>,
}

impl From<&User> for UserInfo {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            tenant: user.tenant.clone(),
            roles: user.roles.clone(),
            disabled: user.disabled,
            created_at: user.created_at,
            token_created_at: user.token_created_at,
            token_expires_at: user.token_expires_at,
        }
    }
}

/// A freshly issued token: shown once, then only its hash remains.
pub struct IssuedToken(pub zeroize::Zeroizing<String>);

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken([redacted])")
    }
}

/// The users of one Warden home, sealed in `<home>/principals/users.wsf`.
pub struct Directory {
    dir: PathBuf,
    key: SecretKey,
    token_key: SecretKey,
    roles: BTreeMap<String, RoleSpec>,
}

impl Directory {
    pub fn open(home: &Path, keyring: &Keyring, roles: BTreeMap<String, RoleSpec>) -> Self {
        Self {
            dir: home.join("principals"),
            key: keyring.derive("warden users v1"),
            token_key: keyring.derive("warden api tokens v1"),
            roles,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("users.wsf")
    }

    pub fn roles(&self) -> &BTreeMap<String, RoleSpec> {
        &self.roles
    }

    pub fn users(&self) -> Result<Vec<User>, AuthError> {
        Ok(sealed::read(&self.path(), &self.key, USERS_PURPOSE)?.unwrap_or_default())
    }

    fn save(&self, users: &[User]) -> Result<(), AuthError> {
        Ok(sealed::write(
            &self.path(),
            &self.key,
            USERS_PURPOSE,
            &users,
        )?)
    }

    /// Changes the users under the directory's lock.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<User>) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut users = self.users()?;
        let result = change(&mut users)?;
        self.save(&users)?;
        Ok(result)
    }

    /// A user by name or id.
    pub fn find(&self, wanted: &str) -> Result<User, AuthError> {
        self.users()?
            .into_iter()
            .find(|user| user.name == wanted || user.id == wanted)
            .ok_or_else(|| AuthError::UnknownUser(wanted.to_string()))
    }

    fn check_roles(&self, roles: &[String]) -> Result<(), AuthError> {
        for role in roles {
            if !self.roles.contains_key(role) {
                let known: Vec<&str> = self.roles.keys().map(String::as_str).collect();
                return Err(AuthError::UnknownRole(role.clone(), known.join(", ")));
            }
        }
        Ok(())
    }

    /// Adds a user and issues its first token.
    pub fn add(
        &self,
        name: &str,
        tenant: &str,
        roles: &[String],
        expires_in_days: Option<u64>,
    ) -> Result<(UserInfo, IssuedToken), AuthError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && name != OPERATOR;
        if !valid {
            return Err(AuthError::BadName(name.to_string()));
        }
        self.check_roles(roles)?;
        self.update(|users| {
            if users.iter().any(|user| user.name == name) {
                return Err(AuthError::UserExists(name.to_string()));
            }
            let now = sealed::now();
            let mut user = User {
                id: crate::crypto::random_id("u")?[..17].to_string(),
                name: name.to_string(),
                tenant: tenant.to_string(),
                roles: roles.to_vec(),
                disabled: false,
                created_at: now,
                token_hash: String::new(),
                token_created_at: now,
                token_expires_at: None,
            };
            let token = self.issue(&mut user, expires_in_days)?;
            let info = UserInfo::from(&user);
            users.push(user);
            Ok((info, token))
        })
    }

    fn issue(
        &self,
        user: &mut User,
        expires_in_days: Option<u64>,
    ) -> Result<IssuedToken, AuthError> {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        crate::crypto::fill_random(secret.as_mut())?;
        let secret = zeroize::Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_ref()),
        );
        let now = sealed::now();
        user.token_hash = hex::encode(self.token_mac(&user.id, &secret));
        user.token_created_at = now;
        user.token_expires_at = expires_in_days.map(|days| now + days * 86_400);
        Ok(IssuedToken(zeroize::Zeroizing::new(format!(
            "{TOKEN_PREFIX}{}_{}",
            user.id,
            secret.as_str()
        ))))
    }

    fn token_mac(&self, user_id: &str, secret: &str) -> [u8; 32] {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.token_key.expose())
            .expect("HMAC takes keys of any length");
        mac.update(user_id.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Replaces a user's token (the old one stops working at once).
    pub fn rotate(
        &self,
        wanted: &str,
        expires_in_days: Option<u64>,
    ) -> Result<(UserInfo, IssuedToken), AuthError> {
        self.update(|users| {
            let user = users
                .iter_mut()
                .find(|user| user.name == wanted || user.id == wanted)
                .ok_or_else(|| AuthError::UnknownUser(wanted.to_string()))?;
            let token = self.issue(user, expires_in_days)?;
            Ok((UserInfo::from(&*user), token))
        })
    }

    pub fn set_disabled(&self, wanted: &str, disabled: bool) -> Result<UserInfo, AuthError> {
        self.update(|users| {
            let user = users
                .iter_mut()
                .find(|user| user.name == wanted || user.id == wanted)
                .ok_or_else(|| AuthError::UnknownUser(wanted.to_string()))?;
            user.disabled = disabled;
            Ok(UserInfo::from(&*user))
        })
    }

    /// Deletes a user (erasure); returns what was removed.
    pub fn remove(&self, wanted: &str) -> Result<User, AuthError> {
        self.update(|users| {
            let position = users
                .iter()
                .position(|user| user.name == wanted || user.id == wanted)
                .ok_or_else(|| AuthError::UnknownUser(wanted.to_string()))?;
            Ok(users.remove(position))
        })
    }

    /// The principal a token belongs to. Every failure takes the same path
    /// through the MAC, so timing does not tell which part was wrong.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let (user_id, secret) = token
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .unwrap_or(("", ""));
        let users = self.users()?;
        let user = users.iter().find(|user| user.id == user_id);
        let expected = user
            .and_then(|user| hex::decode(&user.token_hash).ok())
            .unwrap_or_else(|| vec![0u8; 32]);
        let presented = self.token_mac(user_id, secret);
        let matches: bool = presented.ct_eq(expected.as_slice()).into();
        let Some(user) = user.filter(|_| matches && !secret.is_empty()) else {
            return Err(AuthError::BadToken);
        };
        self.principal_of(user)
    }

    /// The principal of a user without a token (operating-system mapping).
    pub fn principal(&self, wanted: &str) -> Result<Principal, AuthError> {
        self.principal_of(&self.find(wanted)?)
    }

    fn principal_of(&self, user: &User) -> Result<Principal, AuthError> {
        if user.disabled {
            return Err(AuthError::Disabled(user.name.clone()));
        }
        if user
            .token_expires_at
            .is_some_and(|expires| expires <= sealed::now())
        {
            return Err(AuthError::Expired(user.name.clone()));
        }
        let mut actions = BTreeSet::new();
        let mut labels = BTreeSet::new();
        let mut all_labels = false;
        for role in &user.roles {
            // A role removed from the configuration grants nothing.
            let Some(spec) = self.roles.get(role) else {
                continue;
            };
            actions.extend(spec.actions.iter().copied());
            for label in &spec.labels {
                if label == "*" {
                    all_labels = true;
                } else {
                    labels.insert(label.clone());
                }
            }
        }
        Ok(Principal {
            id: user.id.clone(),
            name: user.name.clone(),
            tenant: user.tenant.clone(),
            roles: user.roles.clone(),
            actions,
            labels: if all_labels {
                LabelScope::All
            } else {
                LabelScope::Only(labels)
            },
            operator: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_labels_must_all_be_held_and_behaviour_labels_do_not_count() {
        let hr = LabelScope::Only(BTreeSet::from(["hr".to_string()]));
        assert!(hr.admits(&[]));
        assert!(hr.admits(&["hr".into()]));
        assert!(hr.admits(&["hr".into(), "no-verbatim".into()]));
        assert!(!hr.admits(&["hr".into(), "finance".into()]));
        assert!(!LabelScope::Only(BTreeSet::new()).admits(&["hr".into()]));
        assert!(LabelScope::All.admits(&["anything".into()]));
    }

    #[test]
    fn users_of_one_tenant_are_refused_in_another_even_with_the_action() {
        let mut principal = Principal::operator("a");
        principal.operator = false;
        assert!(principal.require(Action::Ask, "a").is_ok());
        assert!(matches!(
            principal.require(Action::Ask, "b"),
            Err(AuthError::OtherTenant { .. })
        ));
        principal.actions.remove(&Action::Admin);
        assert!(matches!(
            principal.require(Action::Admin, "a"),
            Err(AuthError::Denied { .. })
        ));
    }
}
