//! The application definition: `compose.yaml` + `outpost.yaml` in an app folder, parsed and
//! validated with every problem reported at once (see docs/FORMAT.md).
//!
//! [`App::load`] reads a folder, [`App::from_files`] the files a release carries inline. Both
//! return a fully checked [`App`] or [`AppErrors`] listing every problem with its file and line.
//! YAML is read by `yaml.rs` into a small tree with lines (no anchors, aliases or tags; bounded
//! size and depth), then into typed structs (`compose.rs`, `outpost.rs`), then checked across the
//! two files (`validate.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

mod compose;
mod outpost;
pub mod reference;
mod validate;
mod vars;
mod yaml;

pub use compose::{
    Command, Compose, Condition, Constraint, ConstraintOp, HealthTest, Healthcheck, PortMapping,
    Protocol, Restart, Service, VolumeMount,
};
pub use outpost::{
    ConfigGroup, ConfigItem, DiskPath, FactOp, ItemKind, Outpost, PreflightCheck, PreflightKind,
    Severity, StatusCheck, StatusProbe, ValueError,
};
pub use reference::{ImageRef, ReferenceError};
pub use vars::{references, substitute, VarError, VarRef};

/// The file that says what runs.
pub const COMPOSE_FILE: &str = "compose.yaml";
/// The file that says what the admin configures and checks.
pub const OUTPOST_FILE: &str = "outpost.yaml";
/// Largest app file, in bytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// A checked application definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub compose: Compose,
    pub outpost: Outpost,
    /// The files as read, by name (`compose.yaml`, `outpost.yaml`): what a release carries.
    pub files: BTreeMap<String, String>,
    /// Every service's image, normalised; valid because `App` is only built after every check.
    images: BTreeSet<ImageRef>,
}

/// One problem in an app folder. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Every problem found in an app folder, in file and line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppErrors(pub Vec<Problem>);

impl App {
    /// Reads `compose.yaml` and `outpost.yaml` from `dir` (each at most [`MAX_FILE_BYTES`]) and
    /// checks them.
    pub fn load(dir: &Path) -> Result<App, AppErrors> {
        let mut files = BTreeMap::new();
        let mut problems = Vec::new();
        for name in [COMPOSE_FILE, OUTPOST_FILE] {
            match read_bounded(&dir.join(name)) {
                Ok(text) => {
                    files.insert(name.to_string(), text);
                }
                Err(message) => problems.push(Problem {
                    file: name.to_string(),
                    line: None,
                    message,
                }),
            }
        }
        check(files, problems)
    }

    /// Checks the files of an app given by name, as a release carries them. Exactly
    /// `compose.yaml` and `outpost.yaml` are expected.
    pub fn from_files(files: &BTreeMap<String, String>) -> Result<App, AppErrors> {
        let mut problems = Vec::new();
        for name in files.keys() {
            if name != COMPOSE_FILE && name != OUTPOST_FILE {
                problems.push(Problem {
                    file: name.clone(),
                    line: None,
                    message: format!(
                        "unexpected file: an app has only {COMPOSE_FILE} and {OUTPOST_FILE}"
                    ),
                });
            }
        }
        let mut known = files.clone();
        known.retain(|name, _| name == COMPOSE_FILE || name == OUTPOST_FILE);
        for (name, text) in &known {
            if text.len() > MAX_FILE_BYTES {
                problems.push(Problem {
                    file: name.clone(),
                    line: None,
                    message: format!("larger than {MAX_FILE_BYTES} bytes"),
                });
            }
        }
        known.retain(|_, text| text.len() <= MAX_FILE_BYTES);
        for name in [COMPOSE_FILE, OUTPOST_FILE] {
            if !files.contains_key(name) {
                problems.push(Problem {
                    file: name.to_string(),
                    line: None,
                    message: "missing".to_string(),
                });
            }
        }
        check(known, problems)
    }

    /// Every image the app runs, normalised (`docker.io/library/nginx:latest`), each once, in a
    /// stable (sorted) order.
    pub fn images(&self) -> Vec<ImageRef> {
        self.images.iter().cloned().collect()
    }

    /// The compose profiles that are on for these config values: those of `bool` items whose
    /// value (or, without one, default) is `true`.
    pub fn profiles_for(&self, values: &BTreeMap<String, String>) -> BTreeSet<String> {
        self.outpost
            .items()
            .filter_map(|item| {
                let profile = item.profile.as_ref()?;
                let value = values.get(&item.name).or(item.default.as_ref())?;
                (value == "true").then(|| profile.clone())
            })
            .collect()
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "missing".to_string(),
        _ => format!("cannot open: {e}"),
    })?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells "at the limit" from "over it" without trusting metadata.
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Parses and checks the files present, adding to `problems` (which holds what reading found).
fn check(files: BTreeMap<String, String>, mut problems: Vec<Problem>) -> Result<App, AppErrors> {
    let tree = |name: &'static str, problems: &mut Vec<Problem>| {
        let text = files.get(name)?;
        match yaml::parse(name, text) {
            Ok((root, duplicates)) => {
                problems.extend(duplicates);
                Some(root)
            }
            Err(problem) => {
                problems.push(problem);
                None
            }
        }
    };
    let compose_tree = tree(COMPOSE_FILE, &mut problems);
    let outpost_tree = tree(OUTPOST_FILE, &mut problems);

    let compose = compose_tree
        .as_ref()
        .map(|root| compose::parse(root, &mut yaml::Sink::new(COMPOSE_FILE, &mut problems)));
    let outpost = outpost_tree
        .as_ref()
        .map(|root| outpost::parse(root, &mut yaml::Sink::new(OUTPOST_FILE, &mut problems)));
    validate::cross_check(
        compose.as_ref().map(|(c, m)| (c, m)),
        outpost.as_ref().map(|(o, m)| (o, m)),
        &mut problems,
    );

    if !problems.is_empty() {
        // Stable: problems on one line keep the order they were found in.
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        return Err(AppErrors(problems));
    }
    match (compose, outpost) {
        (Some((compose, _)), Some((outpost, _))) => {
            // Every image parsed while the services were read, or there would be a problem.
            let images = compose
                .services
                .values()
                .filter_map(|s| ImageRef::parse(&s.image).ok())
                .collect();
            Ok(App {
                compose,
                outpost,
                files,
                images,
            })
        }
        // Without a tree there is a problem, so this is not reached; say so rather than panic.
        _ => Err(AppErrors(vec![Problem {
            file: COMPOSE_FILE.to_string(),
            line: None,
            message: "internal error: the app could not be read".to_string(),
        }])),
    }
}

impl fmt::Display for Problem {
    /// `compose.yaml:12: service "web": unknown key "imagee"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl fmt::Display for AppErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppErrors {}
