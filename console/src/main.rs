//! `outpost-console`: parse arguments, resolve the configuration, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use outpost_console::config::{LogFormat, RawSettings, ServeConfig, Sources};

#[derive(Parser)]
#[command(name = "outpost-console", version, about = "The Outpost admin console")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the admin console and API over HTTPS.
    Serve(ServeArgs),
}

/// Flags are taken as text and validated together with the environment and the file,
/// so every bad value is reported at once.
#[derive(Args)]
struct ServeArgs {
    /// A TOML file with settings (keys as the flags, with underscores). Env: OUTPOST_CONFIG.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the console keeps its state [default: /var/lib/outpost]. Env: OUTPOST_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// Address and port of the HTTPS console [default: 0.0.0.0:8800]. Env: OUTPOST_LISTEN.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Address and port of the agent channel [default: 0.0.0.0:9879]. Env: OUTPOST_CLUSTER_LISTEN.
    #[arg(long, value_name = "ADDR")]
    cluster_listen: Option<String>,
    /// Host name or address to print in links [default: the listen address, or the host
    /// name when listening on all addresses]. Env: OUTPOST_ADVERTISE_HOST.
    #[arg(long, value_name = "HOST")]
    advertise_host: Option<String>,
    /// `human` or `json` [default: human]. Env: OUTPOST_LOG_FORMAT.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// A log filter such as `info` or `outpost_console=debug` [default: info]. Env: OUTPOST_LOG_LEVEL.
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Sessions unused this long end [default: 30m]. Env: OUTPOST_SESSION_IDLE_TIMEOUT.
    #[arg(long, value_name = "DURATION")]
    session_idle_timeout: Option<String>,
    /// Sessions end this long after login [default: 12h]. Env: OUTPOST_SESSION_MAX_AGE.
    #[arg(long, value_name = "DURATION")]
    session_max_age: Option<String>,
    /// A PEM file of CA certificates to trust for the vendor's api host, besides the
    /// system's (for an api host with a private CA). Env: OUTPOST_API_HOST_CA.
    #[arg(long, value_name = "FILE")]
    api_host_ca: Option<String>,
    /// Days the outbound log keeps an entry [default: 30]. Env: OUTPOST_OUTBOUND_LOG_DAYS.
    #[arg(long, value_name = "DAYS")]
    outbound_log_days: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config_path = args.config.clone().or_else(|| {
        env.iter()
            .find(|(name, _)| name == "OUTPOST_CONFIG")
            .map(|(_, value)| PathBuf::from(value))
    });
    let file_text = match &config_path {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("error: cannot read the config file {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let mut flags = RawSettings::default();
    for (key, value) in [
        ("data_dir", args.data_dir),
        ("listen", args.listen),
        ("cluster_listen", args.cluster_listen),
        ("advertise_host", args.advertise_host),
        ("log_format", args.log_format),
        ("log_level", args.log_level),
        ("session_idle_timeout", args.session_idle_timeout),
        ("session_max_age", args.session_max_age),
        ("api_host_ca", args.api_host_ca),
        ("outbound_log_days", args.outbound_log_days),
    ] {
        if let Some(value) = value {
            flags.values.insert(key, value);
        }
    }
    let sources = Sources {
        flags,
        env,
        file: config_path.as_deref().zip(file_text.as_deref()),
    };
    let (config, warnings) = match ServeConfig::resolve(&sources) {
        Ok(resolved) => resolved,
        Err(errors) => {
            eprintln!("error: {errors}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format, &config.log_level);
    for warning in warnings {
        tracing::warn!("{warning}");
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(outpost_console::lifecycle::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
