//! `outpost-airgap channel publish` puts a signed release on its channel in the vendor
//! dir; `channel advise` publishes a security advisory in a channel's index.

use std::path::PathBuf;

use super::license::rfc3339;
use super::{now, read_document, CliError};
use crate::channel::{Advisory, Severity, MAX_AFFECTED};
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

/// Arguments of `channel advise`.
#[derive(Debug, clap::Args)]
pub struct AdviseArgs {
    /// The vendor dir; the channel must have an index there.
    #[arg(long, value_name = "VENDORDIR")]
    pub root: PathBuf,
    /// The vendor's private key (vendor.key): the current index must verify with it, and
    /// it signs the next one.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[arg(long, value_name = "ID")]
    pub app: String,
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// The advisory's id (OSA-2026-0001). Advising again with the same id replaces it.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// low, medium, high or critical.
    #[arg(long)]
    pub severity: Severity,
    /// One line consoles show in banners and lists.
    #[arg(long)]
    pub title: String,
    /// What it is and what to do.
    #[arg(long, default_value = "")]
    pub text: String,
    /// The affected release sequences: a list and ranges, e.g. `1,2` or `1-3,5`.
    // The full path keeps clap from taking `Vec` as "the flag repeats": the parser
    // already yields the whole list, and `Vec<u64>` would panic on access.
    #[arg(long, value_name = "SEQUENCES", value_parser = parse_sequences)]
    pub affects: ::std::vec::Vec<u64>,
    /// The first release sequence that fixes it.
    #[arg(long, value_name = "SEQUENCE")]
    pub fixed_in: Option<u64>,
    /// How long the new index stays valid (as for `channel publish`).
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = parse_duration)]
    pub expires_in: time::Duration,
}

/// Signs the channel's next index with the advisory in it.
pub fn advise(args: AdviseArgs) -> Result<(), CliError> {
    let key = SigningKey::read(&args.key)?;
    let now = now();
    let advisory = Advisory {
        id: args.id,
        severity: args.severity,
        title: args.title,
        text: args.text,
        affected: args.affects,
        fixed_in: args.fixed_in,
        published_at: now,
    };
    let vendor = VendorDir::new(&args.root);
    let advice = vendor.advise(
        &args.app,
        &args.channel,
        advisory.clone(),
        &key,
        now,
        args.expires_in,
    )?;
    let verb = if advice.replaced {
        "replaced"
    } else {
        "published"
    };
    let fixed = advisory.fixed_in.map_or_else(
        || "not fixed yet".to_owned(),
        |s| format!("fixed in sequence {s}"),
    );
    println!(
        "Advisory {} ({}) {verb} for {} {}: affects sequences {}, {fixed}",
        advisory.id,
        advisory.severity.as_str(),
        args.app,
        args.channel,
        advisory
            .affected
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!(
        "Index: {} version {}, valid until {}",
        advice.index_path.display(),
        advice.index_version,
        rfc3339(advice.expires_at)
    );
    Ok(())
}

/// `1,2`, `1-3,5`: the sequences, increasing and without repeats, at most
/// [`MAX_AFFECTED`] of them.
pub fn parse_sequences(text: &str) -> Result<Vec<u64>, String> {
    let bad = |part: &str| format!("{part:?} is not a sequence or a range such as 3 or 1-4");
    let mut sequences = std::collections::BTreeSet::new();
    for part in text.split(',').map(str::trim) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u64>().map_err(|_| bad(part))?,
                b.trim().parse::<u64>().map_err(|_| bad(part))?,
            ),
            None => {
                let n = part.parse::<u64>().map_err(|_| bad(part))?;
                (n, n)
            }
        };
        if first > last {
            return Err(format!("{part:?}: a range goes from low to high"));
        }
        if last - first >= MAX_AFFECTED as u64
            || sequences.len() + (last - first) as usize >= MAX_AFFECTED
        {
            return Err(format!("{text:?} lists more than {MAX_AFFECTED} sequences"));
        }
        sequences.extend(first..=last);
    }
    Ok(sequences.into_iter().collect())
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
    fn sequence_lists_and_ranges() {
        assert_eq!(parse_sequences("3").unwrap(), [3]);
        assert_eq!(parse_sequences("1-3,5").unwrap(), [1, 2, 3, 5]);
        assert_eq!(parse_sequences("5, 2-3 ,3").unwrap(), [2, 3, 5]);
        for bad in [
            "",
            "a",
            "3-1",
            "1-",
            "-1",
            "1,,2",
            "0-5000",
            "1-18446744073709551615",
        ] {
            assert!(parse_sequences(bad).is_err(), "{bad:?}");
        }
    }

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
