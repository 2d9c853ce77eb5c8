//! `outpost-airgap license issue` signs a license for one customer; `license revoke`
//! revokes one stored in the vendor dir.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::RngCore;
use time::OffsetDateTime;

use super::{now, read_document, CliError};
use crate::document::{Document, SCHEMA};
use crate::keys::SigningKey;
use crate::license::{License, RegistryCredentials};
use crate::vendor::{is_safe_name, write_atomic, VendorDir};

/// The environment variable the registry password may come from.
pub const REGISTRY_PASSWORD_ENV: &str = "OUTPOST_REGISTRY_PASSWORD";
/// The largest registry password file read.
const MAX_PASSWORD_FILE_BYTES: usize = 4096;
const MAX_ENTITLEMENT_VALUE: usize = 1024;

/// Arguments of `license issue`. No `Debug`: it may hold the registry password.
#[derive(clap::Args)]
pub struct IssueArgs {
    /// The vendor's private key (vendor.key).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The customer's name, as admins and support will read it.
    #[arg(long, value_name = "NAME")]
    pub customer: String,
    /// The app id the license is for.
    #[arg(long, value_name = "ID")]
    pub app: String,
    /// The release channel the customer follows (e.g. stable).
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// The last day of validity, YYYY-MM-DD (valid through 23:59:59 UTC that day), or an
    /// RFC 3339 time (2027-01-31T12:00:00Z).
    #[arg(long, value_name = "DATE", value_parser = parse_expiry)]
    pub expires: OffsetDateTime,
    /// Allow installing from airgap bundles.
    #[arg(long)]
    pub airgap: bool,
    /// The most nodes the customer may run [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_nodes: Option<u32>,
    /// An entitlement, KEY=VALUE; repeat for more.
    #[arg(long = "entitlement", value_name = "KEY=VALUE", value_parser = parse_entitlement)]
    pub entitlements: Vec<(String, String)>,
    /// The api host consoles sync this license from (https://updates.example.com).
    #[arg(long, value_name = "URL")]
    pub api_host: Option<String>,
    /// The vendor's private registry (`registry.example.com`, `host:5000`): the host the
    /// registry credentials are for. Required with --registry-user.
    #[arg(long, value_name = "HOST", requires = "registry_user")]
    pub registry_host: Option<String>,
    /// User name for the vendor's private registry. Its password comes from
    /// --registry-password-file, else --registry-password, else OUTPOST_REGISTRY_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub registry_user: Option<String>,
    /// The registry password. Visible in the process list: prefer --registry-password-file
    /// or OUTPOST_REGISTRY_PASSWORD.
    #[arg(
        long,
        value_name = "PASSWORD",
        requires = "registry_user",
        conflicts_with = "registry_password_file"
    )]
    pub registry_password: Option<String>,
    /// A file holding the registry password (one trailing newline is ignored).
    #[arg(long, value_name = "FILE", requires = "registry_user")]
    pub registry_password_file: Option<PathBuf>,
    /// The license id [default: 32 random hex digits]. Issuing again with the same id
    /// replaces that license (a renewal).
    #[arg(long, value_name = "ID")]
    pub license_id: Option<String>,
    /// Where to write the signed license file (mode 0600: it holds registry credentials).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also store the license in this vendor dir (licenses/<license_id>.json), where
    /// `serve` finds it.
    #[arg(long, value_name = "VENDORDIR")]
    pub root: Option<PathBuf>,
}

/// Arguments of `license revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The vendor dir that stores the license (licenses/<license_id>.json).
    #[arg(long, value_name = "VENDORDIR")]
    pub root: PathBuf,
    /// The vendor's private key (vendor.key): the stored license must verify with it.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[arg(long, value_name = "ID")]
    pub license_id: String,
    /// Why, as the customer's admins will read it.
    #[arg(long)]
    pub reason: String,
}

/// Revokes a stored license: the api host serves the revoked license to the console's
/// next sync, and no more releases.
pub fn revoke(args: RevokeArgs) -> Result<(), CliError> {
    let key = SigningKey::read(&args.key)?;
    let reason = args.reason.trim();
    if reason.is_empty() || reason.len() > crate::license::MAX_REVOCATION_REASON {
        return Err(CliError::Invalid(format!(
            "--reason must be 1-{} bytes",
            crate::license::MAX_REVOCATION_REASON
        )));
    }
    let (license, path) =
        VendorDir::new(&args.root).revoke(&args.license_id, reason, &key, now())?;
    println!(
        "Revoked license {} of {} (app {}); consoles learn it at their next license sync",
        license.license_id, license.customer, license.app_id
    );
    println!("Stored {}", path.display());
    Ok(())
}

/// Signs the license described by `args`, checked as a console would check it, and
/// writes it to `--out` (and the vendor dir with `--root`).
pub fn issue(args: IssueArgs) -> Result<(), CliError> {
    let key = SigningKey::read(&args.key)?;
    let registry = registry_credentials(&args)?;
    let mut entitlements = BTreeMap::new();
    for (name, value) in &args.entitlements {
        if entitlements.insert(name.clone(), value.clone()).is_some() {
            return Err(CliError::Invalid(format!(
                "the entitlement {name} is given twice"
            )));
        }
    }
    let license_id = match args.license_id {
        Some(id) if is_safe_name(&id) => id,
        Some(id) => {
            return Err(CliError::Invalid(format!(
                "--license-id {id:?} must be 1-128 letters, digits, '-', '_' or '.', not starting with '.'"
            )))
        }
        None => random_license_id(),
    };
    let now = now();
    if args.expires <= now {
        return Err(CliError::Invalid(format!(
            "--expires {} is in the past",
            rfc3339(args.expires)
        )));
    }
    let license = License {
        schema: SCHEMA,
        license_id,
        customer: args.customer,
        app_id: args.app,
        channel: args.channel,
        issued_at: now,
        expires_at: args.expires,
        entitlements,
        airgap: args.airgap,
        max_nodes: args.max_nodes,
        api_host: args.api_host,
        registry,
        vendor_key: key.public().to_base64(),
        revoked: None,
    };
    license
        .check(now)
        .map_err(|e| CliError::Invalid(format!("the license would not be valid: {e}")))?;

    let bytes = crate::seal(&license, &key).to_bytes();
    write_atomic(&args.out, &bytes, 0o600)?;
    println!(
        "Issued license {} for {} (app {}, channel {}), valid until {}",
        license.license_id,
        license.customer,
        license.app_id,
        license.channel,
        rfc3339(license.expires_at)
    );
    println!("Wrote {}", args.out.display());
    if let Some(root) = &args.root {
        let stored = VendorDir::new(root).store_license(&license.license_id, &bytes)?;
        println!("Stored {}", stored.display());
    }
    Ok(())
}

/// `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time.
pub fn parse_expiry(text: &str) -> Result<OffsetDateTime, String> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &day) {
        return Ok(date
            .with_hms(23, 59, 59)
            .expect("a valid time")
            .assume_utc());
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|at| at.to_offset(time::UtcOffset::UTC))
        .map_err(|_| {
            format!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 time (2027-01-31T12:00:00Z)")
        })
}

/// `KEY=VALUE`, with a plain key.
pub fn parse_entitlement(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if !is_safe_name(name) {
        return Err(format!(
            "the entitlement name {name:?} must be 1-128 letters, digits, '-', '_' or '.'"
        ));
    }
    if value.len() > MAX_ENTITLEMENT_VALUE {
        return Err(format!(
            "the value of {name} is longer than {MAX_ENTITLEMENT_VALUE} bytes"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn random_license_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn registry_credentials(args: &IssueArgs) -> Result<Option<RegistryCredentials>, CliError> {
    let Some(username) = &args.registry_user else {
        return Ok(None);
    };
    let Some(host) = &args.registry_host else {
        return Err(CliError::Invalid(
            "--registry-user needs --registry-host: the registry the credentials are for".into(),
        ));
    };
    outpost_registry_host(host)?;
    let password = if let Some(path) = &args.registry_password_file {
        let bytes = read_document(path, MAX_PASSWORD_FILE_BYTES)?;
        if bytes.len() > MAX_PASSWORD_FILE_BYTES {
            return Err(CliError::Invalid(format!(
                "{} is larger than {MAX_PASSWORD_FILE_BYTES} bytes; it should hold only the password",
                path.display()
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| CliError::Invalid(format!("{} is not UTF-8 text", path.display())))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_owned()
    } else if let Some(password) = &args.registry_password {
        password.clone()
    } else {
        match std::env::var(REGISTRY_PASSWORD_ENV) {
            Ok(password) => password,
            Err(std::env::VarError::NotPresent) => {
                return Err(CliError::Invalid(format!(
                    "--registry-user needs a password: --registry-password-file FILE, \
                     {REGISTRY_PASSWORD_ENV}, or --registry-password"
                )))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CliError::Invalid(format!(
                    "{REGISTRY_PASSWORD_ENV} is not UTF-8 text"
                )))
            }
        }
    };
    if username.is_empty() || password.is_empty() {
        return Err(CliError::Invalid(
            "the registry user name and password must not be empty".into(),
        ));
    }
    Ok(Some(RegistryCredentials {
        host: Some(host.clone()),
        username: username.clone(),
        password,
    }))
}

/// A registry host as the first component of an image reference names it.
fn outpost_registry_host(host: &str) -> Result<(), CliError> {
    let probe = format!("{host}/probe");
    match crate::app::ImageRef::parse(&probe) {
        Ok(image) if image.registry() == host => Ok(()),
        _ => Err(CliError::Invalid(format!(
            "--registry-host {host:?} is not a registry host (like registry.example.com or host:5000)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn expiry_dates() {
        assert_eq!(
            parse_expiry("2027-01-31").unwrap(),
            datetime!(2027-01-31 23:59:59 UTC)
        );
        assert_eq!(
            parse_expiry("2027-01-31T12:00:00+02:00").unwrap(),
            datetime!(2027-01-31 10:00:00 UTC)
        );
        for bad in ["2027-02-30", "31/01/2027", "tomorrow", ""] {
            assert!(parse_expiry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entitlements() {
        assert_eq!(
            parse_entitlement("seats=10").unwrap(),
            ("seats".into(), "10".into())
        );
        assert_eq!(
            parse_entitlement("sso=a=b").unwrap(),
            ("sso".into(), "a=b".into())
        );
        assert_eq!(
            parse_entitlement("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        for bad in ["seats", "=10", "a b=1", "../x=1"] {
            assert!(parse_entitlement(bad).is_err(), "{bad:?}");
        }
    }
}
