//! The command line: subcommands, their options, and how a failure is reported (one line on
//! stderr, a non-zero exit, never a panic or a backtrace).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::{self, Config, DatabaseUrl};
use crate::localpg::LocalPostgres;
use crate::poller::Poller;
use crate::telemetry::{self, LogFormat};
use crate::{db, web};

/// Sightline shows the security and observability posture of every AWS account and region you
/// own: Security Hub, GuardDuty, Inspector, Macie and IAM Access Analyzer findings with their
/// history, service coverage, and the audit-trail baseline.
#[derive(Debug, Parser)]
#[command(name = "sightline", version, about, long_about)]
pub struct Args {
    /// Configuration file (see sightline.example.toml).
    #[arg(long, global = true, env = "SIGHTLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Postgres connection string; overrides `database_url` in the config file.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// A read replica of that database: `serve` reads pages and the API from it, and keeps
    /// writes (and the API's token checks) on the primary.
    #[arg(
        long,
        global = true,
        env = "DATABASE_READ_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_read_url: Option<String>,
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        env = "SIGHTLINE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web pages and the API (and run the poller in the background).
    Serve {
        /// Serve only; leave polling to `sightline poll` processes.
        #[arg(long)]
        no_poller: bool,
    },
    /// Poll every configured account, region and source for findings.
    Poll {
        /// Run one cycle and exit (0 when the cycle ran, whatever single targets reported).
        #[arg(long)]
        once: bool,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Run the whole product against the built-in simulated AWS organisation.
    Demo {
        /// Address for the web server [default: 127.0.0.1:8080, or a free port when it is busy].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Serve a simulated AWS organisation over the real AWS wire protocols, with its ground
    /// truth at /_sim/truth and a matching Sightline config at /_sim/config.
    Simulate {
        /// Address to listen on (loopback only: the simulator trusts its callers).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4566")]
        listen: std::net::SocketAddr,
        /// Seed of the generated organisation (same seed, same organisation).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of accounts.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=9999))]
        accounts: u64,
        /// Number of watched regions (the first four are approved).
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=17))]
        regions: u64,
        /// Give every (account, region, service) exactly this many findings (scale tests).
        #[arg(long, value_name = "N")]
        findings_per_target: Option<usize>,
        /// Make the security-tooling account the delegated administrator of the five finding
        /// services (it sees every member's findings); /_sim/config then reads through it.
        #[arg(long)]
        delegated_admin: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Recompute the daily rollups (the trends) of UTC days from the finding events. The
    /// poller does yesterday and today after each cycle; this fills or repairs history.
    Rollup {
        /// First day, YYYY-MM-DD [default: today].
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Last day, YYYY-MM-DD [default: today; days after today are not written].
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it, alone, on the last line (it is shown only once).
    Create {
        #[arg(long)]
        name: String,
        /// Lifetime, like 90d or 12h; default: no expiry.
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires: Option<std::time::Duration>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by name.
    Revoke { name: String },
}

pub fn run(args: Args) -> ExitCode {
    telemetry::init(args.log_format);
    // The AWS SDK's futures are large (very large in debug builds): give workers room.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sightline: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sightline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Migrate => {
            let url = match database_url_only(&args) {
                Ok(url) => url,
                Err(e) => bail!(e),
            };
            let pool = db::connect(&url, 2).await?;
            db::migrate(&pool).await?;
            let applied = db::MIGRATOR.iter().count();
            println!(
                "database {} is up to date ({applied} migrations)",
                url.redacted()
            );
            Ok(())
        }
        Command::Serve { no_poller } => {
            let config = load_config(&args)?;
            config.check_listen()?;
            let url = database_url(&args, &config)?;
            let pool = db::connect(&url, 16).await?;
            db::migrate(&pool).await?;
            db::accounts::sync(&pool, &config.accounts)
                .await
                .context("cannot store the configured accounts")?;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let poller = if no_poller {
                None
            } else {
                let poller = Poller::new(pool.clone(), Arc::new(config.clone())).await;
                Some(tokio::spawn(
                    async move { poller.run_forever(stopped).await },
                ))
            };
            let mut state = web::AppState::new(pool, web::Site::from_config(&config));
            if let Some(read_url) = &args.database_read_url {
                let read_url = DatabaseUrl::new(read_url.clone());
                let reads = db::connect(&read_url, 16).await?;
                tracing::info!(replica = %read_url.redacted(), "pages and the API read from the replica");
                state = state.with_reads(reads);
            }
            let served = web::serve(config.listen, state).await;
            // The server has stopped (Ctrl-C, SIGTERM): let the poller store its pages in flight.
            let _ = stop.send(true);
            if let Some(task) = poller {
                let _ = task.await;
            }
            served
        }
        Command::Simulate {
            listen,
            seed,
            accounts,
            regions,
            findings_per_target,
            delegated_admin,
        } => {
            if !listen.ip().is_loopback() {
                bail!(
                    "simulate --listen {listen}: the simulator serves loopback addresses only (127.0.0.1, ::1)"
                );
            }
            let opts = crate::sim::org::Options {
                seed,
                accounts: accounts as usize,
                regions: regions as usize,
                findings_per_target,
                delegated_admin,
                ..Default::default()
            };
            crate::sim::server::serve(listen, opts).await
        }
        Command::Poll { once } => {
            let config = Arc::new(load_config(&args)?);
            let url = database_url(&args, &config)?;
            let pool = db::connect(&url, (config.poller.concurrency as u32 + 4).min(64)).await?;
            db::migrate(&pool).await?;
            let poller = Poller::new(pool, config).await;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                web::shutdown_signal().await;
                let _ = stop.send(true);
            });
            if once {
                let summary = poller.run_cycle(stopped).await?;
                println!("{summary}");
            } else {
                poller.run_forever(stopped).await;
            }
            Ok(())
        }
        Command::Token { ref action } => {
            let url = database_url_only(&args)?;
            let pool = db::connect(&url, 2).await?;
            db::migrate(&pool).await?;
            token(&pool, action).await
        }
        Command::Demo { listen } => demo(args.database_url.as_deref(), listen).await,
        Command::Rollup { from, to } => {
            let url = database_url_only(&args)?;
            let pool = db::connect(&url, 2).await?;
            db::migrate(&pool).await?;
            rollup(&args, &pool, from, to).await
        }
    }
}

/// `sightline rollup`: recomputes the days and prints each day's totals. The SLA days come
/// from the config file when there is one, else the defaults.
async fn rollup(
    args: &Args,
    pool: &sqlx::PgPool,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (from.unwrap_or(today), to.unwrap_or(today));
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let to = to.min(today);
    let path = config::resolve_path(args.config.clone());
    let sla = if args.config.is_some() || path.exists() {
        load_config(args)?.sla
    } else {
        config::SlaConfig::default()
    };
    let rows = db::rollups::recompute(pool, from, to, &sla)
        .await
        .context("cannot recompute the daily rollups")?;
    let all = db::trends::TrendFilter::default();
    let day = db::trends::Interval::Day;
    let open = db::trends::sla_series(pool, from, to, day, &all).await?;
    let flow = db::trends::flow_series(pool, from, to, day, &all).await?;
    for (o, f) in open.iter().zip(&flow) {
        println!(
            "{}  open {}  past SLA {}  new {}  resolved {}  reopened {}",
            o.date, o.open, o.past_sla, f.new, f.resolved, f.reopened
        );
    }
    println!("rolled up {from} to {to}: {rows} rows written");
    Ok(())
}

/// Where `demo` serves when not told: the address the README promises.
const DEMO_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How long the web server and the poller get to finish after Ctrl-C before they are cut off,
/// so that everything, the private Postgres included, is gone well within 15 seconds.
const DEMO_GRACE: Duration = Duration::from_secs(6);

/// `sightline demo`: a private Postgres (unless `DATABASE_URL` names a server), the simulator,
/// the poller and the web server in one process. Ctrl-C or SIGTERM stops them all, and the
/// private Postgres is stopped and deleted whatever happened.
async fn demo(database_url: Option<&str>, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let stop = stop_on_signal()?;
    let listen = demo_listen(listen, DEMO_LISTEN)?;
    let (url, local) = match database_url {
        Some(url) => {
            let url = DatabaseUrl::new(url);
            eprintln!("sightline demo: using the Postgres server at {url} (DATABASE_URL)");
            (url, None)
        }
        None => {
            let started = tokio::task::spawn_blocking(LocalPostgres::start)
                .await
                .context("the Postgres start task failed")?;
            let pg = match started {
                Ok(pg) => pg,
                // Ctrl-C reached initdb or pg_ctl too: that is a stop, not a failure.
                Err(_) if *stop.borrow() => return Ok(()),
                Err(e) => return Err(e),
            };
            eprintln!(
                "sightline demo: started a private Postgres in {} (removed on exit)",
                pg.dir().display()
            );
            (pg.url(), Some(pg))
        }
    };
    let result = run_demo(&url, listen, &stop).await;
    if let Some(pg) = local {
        match pg.stop().await {
            Ok(()) => eprintln!("sightline demo: the private Postgres is stopped and removed"),
            Err(e) if result.is_ok() => return Err(e),
            Err(e) => eprintln!("sightline: {e:#}"),
        }
    }
    result
}

async fn run_demo(
    url: &DatabaseUrl,
    listen: SocketAddr,
    stop: &watch::Sender<bool>,
) -> anyhow::Result<()> {
    // The organisation starts 90 days ago: the demo polls its history day by day (crate::demo).
    let sim = crate::sim::server::spawn(crate::demo::sim_options(chrono::Utc::now()))
        .await
        .context("cannot start the simulator")?;
    let text = {
        let estate = sim.state.estate.read().unwrap_or_else(|e| e.into_inner());
        // No scheme here: the first http:// URL in the output is the one to open.
        eprintln!(
            "sightline demo: a simulated AWS organisation of {} accounts, {} regions and {} findings, served on {}",
            estate.accounts.len(),
            estate.regions.len(),
            estate.findings.len(),
            sim.addr
        );
        crate::sim::truth::config_toml(&estate, &sim.url)
    };
    let mut config = Config::parse(&text).context("the simulator's config")?;
    config.listen = listen;
    let pool = db::connect(url, (config.poller.concurrency as u32 + 8).min(64)).await?;
    db::migrate(&pool).await?;
    db::accounts::sync(&pool, &config.accounts)
        .await
        .context("cannot store the simulated accounts")?;
    if *stop.borrow() {
        return Ok(());
    }

    println!("Sightline demo: open http://{listen}/ (Ctrl-C to stop)");
    let state = web::AppState::new(pool.clone(), web::Site::from_config(&config));
    let mut server = tokio::spawn(web::serve(listen, state));
    // The first cycle starts at once: the pages fill within seconds, then with the history.
    let mut polling = tokio::spawn(crate::demo::poll(
        pool.clone(),
        Arc::new(config),
        sim.state.clone(),
        stop.subscribe(),
    ));

    // The server stops by itself on Ctrl-C or SIGTERM (or fails); either way the rest follows.
    let mut stopped = stop.subscribe();
    let served = tokio::select! {
        joined = &mut server => Some(joined),
        _ = stopped.wait_for(|s| *s) => None,
    };
    stop.send_replace(true);
    let deadline = tokio::time::Instant::now() + DEMO_GRACE;
    let served = match served {
        Some(joined) => joined,
        None => match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(joined) => joined,
            Err(_) => {
                server.abort();
                tracing::warn!("the web server did not stop in time: closed");
                Ok(Ok(()))
            }
        },
    };
    if tokio::time::timeout_at(deadline, &mut polling)
        .await
        .is_err()
    {
        polling.abort();
        tracing::warn!("the poller did not stop in time: its pages in flight are dropped");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), pool.close()).await;
    drop(sim);
    served.context("the web server task failed")?
}

/// The address `demo` serves on: `requested` as given (an error when it cannot be bound), or
/// `default`, or any free port on the same interface when `default` is busy (said on stderr).
fn demo_listen(requested: Option<SocketAddr>, default: SocketAddr) -> anyhow::Result<SocketAddr> {
    // Probes bind and let go: the web server binds the same address a moment later.
    if let Some(addr) = requested {
        // Like `serve` without [auth]: nobody signs in to the demo.
        if !addr.ip().is_loopback() {
            bail!(
                "demo --listen {addr}: the demo serves loopback addresses only (127.0.0.1, ::1): its pages have no sign-in"
            );
        }
        let probe = std::net::TcpListener::bind(addr)
            .with_context(|| format!("demo --listen {addr}: cannot listen there"))?;
        return Ok(probe.local_addr()?);
    }
    match std::net::TcpListener::bind(default) {
        Ok(_) => Ok(default),
        Err(e) => {
            let probe = std::net::TcpListener::bind(SocketAddr::new(default.ip(), 0))
                .with_context(|| format!("{default} is busy ({e}), and no other port is free"))?;
            let addr = probe.local_addr()?;
            eprintln!(
                "sightline demo: {default} is busy ({e}); serving on port {} instead",
                addr.port()
            );
            Ok(addr)
        }
    }
}

/// A stop switch that Ctrl-C (SIGINT) or SIGTERM turns on. The handlers are in place when this
/// returns, before anything starts: a signal during start-up is a clean stop, never a kill that
/// would leave the private Postgres running.
fn stop_on_signal() -> anyhow::Result<Arc<watch::Sender<bool>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let stop = Arc::new(watch::Sender::new(false));
    let switch = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        eprintln!("sightline demo: stopping");
        switch.send_replace(true);
    });
    Ok(stop)
}

async fn token(pool: &sqlx::PgPool, action: &TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Create { name, expires } => {
            let name = name.trim().to_owned();
            let expires = *expires;
            if name.is_empty() || name.len() > 100 {
                bail!("--name: give the token a name of 1 to 100 characters");
            }
            let value = crate::api::tokens::generate();
            let expires_at = expires
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| chrono::Utc::now() + d);
            if !db::tokens::create(pool, &name, &crate::api::tokens::hash(&value), expires_at)
                .await?
            {
                bail!("a token named {name:?} exists already: revoke it or choose another name");
            }
            match expires_at {
                Some(at) => eprintln!(
                    "created token {name:?}, valid until {}; it is shown once:",
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
                None => eprintln!("created token {name:?} (no expiry); it is shown once:"),
            }
            println!("{value}");
        }
        TokenAction::List => {
            let tokens = db::tokens::list(pool).await?;
            if tokens.is_empty() {
                println!("no tokens");
            }
            for t in tokens {
                let state = if t.revoked_at.is_some() {
                    "revoked".to_owned()
                } else if t.expires_at.is_some_and(|e| e < chrono::Utc::now()) {
                    "expired".to_owned()
                } else {
                    "active".to_owned()
                };
                let fmt = |d: Option<chrono::DateTime<chrono::Utc>>| {
                    d.map_or("-".to_owned(), |d| d.format("%Y-%m-%d %H:%M").to_string())
                };
                println!(
                    "{:<24} {:<8} created {}  expires {}  last used {}",
                    t.name,
                    state,
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    fmt(t.expires_at),
                    fmt(t.last_used_at)
                );
            }
        }
        TokenAction::Revoke { name } => {
            if !db::tokens::revoke(pool, name).await? {
                bail!("no active token named {name:?} (sightline token list shows them)");
            }
            println!("revoked token {name:?}");
        }
    }
    Ok(())
}

/// `90d`, `12h`, `30m`: a token's lifetime.
fn parse_lifetime(s: &str) -> Result<std::time::Duration, String> {
    config::parse_duration(s)
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let path = config::resolve_path(args.config.clone());
    Ok(Config::load(&path)?)
}

/// `--database-url` / `DATABASE_URL` first, then the config's `database_url`.
fn database_url(args: &Args, config: &Config) -> anyhow::Result<DatabaseUrl> {
    if let Some(url) = &args.database_url {
        return Ok(DatabaseUrl::new(url.clone()));
    }
    config.database_url.clone().context(
        "no database: set DATABASE_URL (or --database-url), or database_url in the config file",
    )
}

/// For commands that need only the database: the config file is read only when no URL is given.
fn database_url_only(args: &Args) -> anyhow::Result<DatabaseUrl> {
    if let Some(url) = &args.database_url {
        return Ok(DatabaseUrl::new(url.clone()));
    }
    let config = load_config(args).context("no DATABASE_URL set, and no usable config file")?;
    database_url(args, &config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn demo_listen_falls_back_only_from_the_default() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = busy.local_addr().unwrap();
        // The default is busy: another port on the same interface.
        let chosen = demo_listen(None, taken).unwrap();
        assert_eq!(chosen.ip(), taken.ip());
        assert_ne!(chosen.port(), taken.port());
        // An address asked for is used as given, or refused.
        let e = demo_listen(Some(taken), DEMO_LISTEN).unwrap_err();
        assert!(
            format!("{e:#}").starts_with(&format!("demo --listen {taken}: cannot listen there")),
            "{e:#}"
        );
        let e = demo_listen(Some("0.0.0.0:8080".parse().unwrap()), DEMO_LISTEN).unwrap_err();
        assert!(
            format!("{e:#}").contains("loopback addresses only"),
            "{e:#}"
        );
        // Port 0 is resolved, so that the printed URL names the real port.
        let any = demo_listen(Some("127.0.0.1:0".parse().unwrap()), taken).unwrap();
        assert_ne!(any.port(), 0);
    }
}
