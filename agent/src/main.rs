//! `outpost-agent` entry point: parse the command line, set up logging, call
//! `link::join` and/or `run::run`, and map the outcome to an exit code (0 stopped by a
//! signal, 1 error, 2 usage, 3 the console refused this node: join it again).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use outpost_agent::link::identity::DEFAULT_DATA_DIR;
use outpost_agent::link::{self, ConsoleUrl, JoinConfig, JoinToken};
use outpost_agent::run::{self, RunConfig, RunError};

/// The Outpost node agent: dials the console on :9879 and drives the local Docker engine.
#[derive(Parser)]
#[command(name = "outpost-agent", version = outpost_agent::VERSION)]
struct Cli {
    /// How log lines (on stderr) are written.
    #[arg(
        long,
        value_enum,
        default_value = "human",
        env = "OUTPOST_LOG_FORMAT",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Join a console with a one-time token, then run.
    Join(JoinArgs),
    /// Run with the identity stored in the data dir.
    Run(RunArgs),
}

#[derive(Args)]
struct JoinArgs {
    /// The console's agent channel, https://HOST:9879 (the port defaults to 9879).
    #[arg(long, value_name = "URL")]
    console: String,
    /// The join token (OPT1.<ca-hash>.<secret>).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "OUTPOST_JOIN_TOKEN",
        hide_env_values = true,
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// Read the join token from a file instead (keeps it out of the process list).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    data: DataDirArg,
    /// The name the console shows for this node (default: the host name).
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    data: DataDirArg,
}

#[derive(Args)]
struct DataDirArg {
    /// Where the node's key, certificate and identity are kept (0700).
    #[arg(
        long,
        value_name = "DIR",
        default_value = DEFAULT_DATA_DIR,
        env = "OUTPOST_AGENT_DATA_DIR"
    )]
    data_dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Why the agent stopped, and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Failure {
        Failure {
            code: error.exit_code(),
            message: error.to_string(),
        }
    }
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

async fn dispatch(command: Commands) -> Result<(), Failure> {
    let data_dir = match command {
        Commands::Join(args) => {
            let console = ConsoleUrl::parse(&args.console).map_err(|e| usage(e.to_string()))?;
            let token_text = match (args.token, args.token_file) {
                (Some(token), _) => token,
                (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
                    usage(format!(
                        "cannot read the token file {}: {e}",
                        path.display()
                    ))
                })?,
                (None, None) => return Err(usage("--token or --token-file is required".into())),
            };
            let token = JoinToken::parse(&token_text).map_err(|e| usage(e.to_string()))?;
            let config = JoinConfig {
                console,
                token,
                hostname: args.hostname.unwrap_or_else(link::join::system_hostname),
                data_dir: args.data.data_dir,
            };
            let identity = link::join(&config).await.map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
            })?;
            println!("joined as {}", identity.node_id());
            config.data_dir
        }
        Commands::Run(args) => args.data.data_dir,
    };
    run::run(RunConfig { data_dir }).await?;
    Ok(())
}

fn init_logging(format: LogFormat) {
    let level = std::env::var("OUTPOST_LOG_LEVEL").unwrap_or_else(|_| "info".into());
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
