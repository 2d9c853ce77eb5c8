//! `outpost-airgap channel publish`: puts a signed release on its channel in the vendor dir.

use std::path::PathBuf;

use super::license::rfc3339;
use super::{now, read_document, CliError};
use crate::document::Document;
use crate::keys::SigningKey;
use crate::release::Release;
use crate::vendor::VendorDir;

/// The longest validity an index may be given.
const MAX_VALIDITY_DAYS: i64 = 366;

/// Arguments of `channel publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The vendor dir (created if missing).
    #[arg(long, value_name = "VENDORDIR")]
    pub root: PathBuf,
    /// The signed release file (`release create` writes it). Its app and channel name the
    /// index it goes into.
    #[arg(long, value_name = "FILE")]
    pub release: PathBuf,
    /// The vendor's private key (vendor.key): the release must verify with its public
    /// key, and it signs the new index.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// How long the new index stays valid: consoles refuse it after that, so publish again
    /// (the same release refreshes it) before. A number and a unit: s, m, h, d.
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = parse_duration)]
    pub expires_in: time::Duration,
}

/// Verifies the release, stores it and writes the channel's next index.
pub fn publish(args: PublishArgs) -> Result<(), CliError> {
    let key = SigningKey::read(&args.key)?;
    let bytes = read_document(&args.release, Release::MAX_ENVELOPE_BYTES)?;
    let vendor = VendorDir::new(&args.root);
    let published = vendor.publish(&args.release, &bytes, &key, now(), args.expires_in)?;
    let what = if published.already_listed {
        "was already listed; index refreshed"
    } else {
        "published"
    };
    println!(
        "{} {} sequence {} ({}) {what}: {} channel index version {}, valid until {}",
        published.app_id,
        published.channel,
        published.sequence,
        published.version,
        published.channel,
        published.index_version,
        rfc3339(published.expires_at)
    );
    println!(
        "Release: {} ({})",
        published.release_path.display(),
        published.digest
    );
    println!("Index: {}", published.index_path.display());
    Ok(())
}

/// `90s`, `30m`, `36h`, `14d`: positive, at most a year.
pub fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 14d, 36h, 30m or 90s");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let too_long =
        || format!("{text:?} must be more than nothing and at most {MAX_VALIDITY_DAYS} days");
    // Bounded before any unit multiplies it, so nothing can overflow.
    if !(1..=MAX_VALIDITY_DAYS * 86_400).contains(&number) {
        return Err(too_long());
    }
    let duration = match unit {
        "s" => time::Duration::seconds(number),
        "m" => time::Duration::minutes(number),
        "h" => time::Duration::hours(number),
        "d" => time::Duration::days(number),
        _ => return Err(bad()),
    };
    if duration > time::Duration::days(MAX_VALIDITY_DAYS) {
        return Err(too_long());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("14d").unwrap(), time::Duration::days(14));
        assert_eq!(parse_duration("36h").unwrap(), time::Duration::hours(36));
        assert_eq!(parse_duration("90s").unwrap(), time::Duration::seconds(90));
        assert_eq!(parse_duration("30m").unwrap(), time::Duration::minutes(30));
        for bad in [
            "",
            "d",
            "14",
            "0d",
            "-1d",
            "400d",
            "1w",
            "1.5d",
            "99999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
