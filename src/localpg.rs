//! A private, throwaway PostgreSQL cluster for `sightline demo` when no `DATABASE_URL` is set:
//! the Rust twin of `scripts/lib/pg.sh`. `initdb` into a temp dir, a free loopback port and a
//! private unix socket, `fsync=off`; stopped and deleted by `stop` (or, as a fallback, on drop).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::config::DatabaseUrl;

/// Where Debian and Ubuntu install the server binaries, one folder per major version.
const DEFAULT_SEARCH: &str = "/usr/lib/postgresql";

/// What to tell someone who has neither the server binaries nor a server.
pub const NO_BINARIES: &str = "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin: install the `postgresql` package (apt-get install postgresql), or set DATABASE_URL to a server you have";

/// A running private cluster. Stop it with [`LocalPostgres::stop`]; dropping it stops it too,
/// blocking the thread.
#[derive(Debug)]
pub struct LocalPostgres {
    /// The folder of `initdb` and `pg_ctl`.
    bin: PathBuf,
    /// The temp dir holding `data/` and `sock/`; removed on stop.
    dir: PathBuf,
    port: u16,
    /// Postgres refuses to run as root: then every server command runs as this user.
    run_as: Option<String>,
    /// Stopped and removed already (the drop has nothing left to do).
    done: bool,
}

impl LocalPostgres {
    /// Creates and starts a cluster; blocks for a few seconds (`initdb`). On failure nothing is
    /// left behind.
    pub fn start() -> anyhow::Result<LocalPostgres> {
        let search = std::env::var_os("SIGHTLINE_PG_SEARCH")
            .map_or_else(|| PathBuf::from(DEFAULT_SEARCH), PathBuf::from);
        let bin =
            find_bin_dir(std::env::var_os("PATH").as_deref(), &search).context(NO_BINARIES)?;
        let run_as = if effective_uid()? == 0 {
            Some("postgres".to_owned())
        } else {
            None
        };
        let owner = match &run_as {
            Some(user) => Some(uid_of(user).with_context(|| {
                format!("running as root, and there is no `{user}` user to run the server as")
            })?),
            None => None,
        };
        let dir = make_temp_dir()?;
        // From here on, `Drop` removes the dir whatever fails.
        let mut pg = LocalPostgres {
            bin,
            dir,
            port: 0,
            run_as,
            done: false,
        };
        let (data, sock) = (pg.data_dir(), pg.dir.join("sock"));
        for d in [&data, &sock] {
            std::fs::create_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        if let Some(uid) = owner {
            // The server user must reach its folders inside root's temp dir.
            std::fs::set_permissions(&pg.dir, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot chmod {}", pg.dir.display()))?;
            for d in [&data, &sock] {
                std::os::unix::fs::chown(d, Some(uid), None)
                    .with_context(|| format!("cannot hand {} to the postgres user", d.display()))?;
            }
        }
        // `--locale=C -E UTF8`: independent of the caller's locale, which may not be installed.
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync"])
            .args(["--locale=C", "-E", "UTF8"])
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", last_lines(&out.stderr, &out.stdout));
        }
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                shell_quote(&sock)
            );
            let out = pg
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(sock.join("server.log"))
                .args(["-w", "-t", "30", "-o", &options, "start"])
                .output()
                .context("cannot run pg_ctl")?;
            if out.status.success() {
                pg.port = port;
                tracing::debug!(port, dir = %pg.dir.display(), "private Postgres started");
                return Ok(pg);
            }
            // Another process may have taken the port in between: try another.
            let log = std::fs::read(sock.join("server.log")).unwrap_or_default();
            last_error = last_lines(&log, &out.stderr);
        }
        bail!("the private Postgres did not start: {last_error}")
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> DatabaseUrl {
        DatabaseUrl::new(format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
    }

    /// The temp dir everything lives in (removed on stop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster's data directory (the `-D` of its server processes).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the server (fast shutdown: sessions are ended) and deletes the temp dir.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        tokio::task::spawn_blocking(move || self.stop_blocking())
            .await
            .context("the Postgres stop task failed")?
    }

    fn stop_blocking(&mut self) -> anyhow::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let data = self.data_dir();
        // The server may be stopping already: in a terminal, Ctrl-C reaches the whole process
        // group, and a server started without its own session gets it too. Then pg_ctl fails
        // (no pid file, or not running); what matters is that the postmaster is gone.
        if let Some(pid) = postmaster_pid(&data) {
            for (mode, wait) in [("fast", 10), ("immediate", 5)] {
                let _ = self
                    .command("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", mode, "-w", "-t", &wait.to_string(), "stop"])
                    .output();
                if wait_gone(pid, Duration::from_secs(wait)) {
                    break;
                }
            }
            if is_running(pid) {
                bail!(
                    "the private Postgres (pid {pid}) did not stop; its data is in {}",
                    self.dir.display()
                );
            }
        }
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("cannot remove {}", self.dir.display()))?;
        tracing::debug!(dir = %self.dir.display(), "private Postgres stopped and removed");
        Ok(())
    }

    /// A server program, run as the server user when we are root, from the temp dir (a
    /// working directory the server user may not read makes the tools complain).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.current_dir(&self.dir)
            .stdin(std::process::Stdio::null());
        cmd
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop_blocking() {
            tracing::warn!(error = %format!("{e:#}"), "cannot clean up the private Postgres");
        }
    }
}

/// The folder holding `initdb` and `pg_ctl`: the one on `path_var` (symlinks resolved), else
/// the newest `<search>/<version>/bin`.
pub fn find_bin_dir(path_var: Option<&OsStr>, search: &Path) -> Option<PathBuf> {
    if let Some(path_var) = path_var {
        let on_path = |name: &str| {
            std::env::split_paths(path_var)
                .map(|d| d.join(name))
                .find(|p| is_executable(p))
        };
        if let (Some(initdb), Some(_)) = (on_path("initdb"), on_path("pg_ctl")) {
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            if let Some(dir) = real.parent() {
                return Some(dir.to_owned());
            }
        }
    }
    let mut versions: Vec<String> = std::fs::read_dir(search)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    sort_newest_first(&mut versions);
    versions
        .into_iter()
        .map(|v| search.join(v).join("bin"))
        .find(|bin| is_executable(&bin.join("initdb")) && is_executable(&bin.join("pg_ctl")))
}

/// Orders version folder names (`9.6`, `15`, `17`) newest first, numerically.
pub fn sort_newest_first(versions: &mut [String]) {
    fn key(v: &str) -> Vec<u64> {
        v.split('.')
            .map_while(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect()
    }
    versions.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| b.cmp(a)));
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The effective uid, from `/proc/self/status` or else `id -u`.
fn effective_uid() -> anyhow::Result<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(uid) = effective_uid_from_status(&status)
    {
        return Ok(uid);
    }
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("cannot tell which user this is (id -u)")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("cannot tell which user this is (id -u)")
}

/// The second field of the `Uid:` line (real, effective, saved, filesystem).
fn effective_uid_from_status(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn uid_of(user: &str) -> anyhow::Result<u32> {
    let out = Command::new("id").args(["-u", user]).output()?;
    if !out.status.success() {
        bail!("no such user");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// `/tmp/sightline-pg.<random>`, created fresh (never one that exists): `/tmp` like the
/// script, so the server user can reach it when we run as root.
fn make_temp_dir() -> anyhow::Result<PathBuf> {
    for _ in 0..10 {
        let simple = uuid::Uuid::new_v4().simple().to_string();
        let dir = Path::new("/tmp").join(format!("sightline-pg.{}", &simple[..12]));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context("cannot create a temp dir in /tmp"),
        }
    }
    bail!("cannot create a fresh temp dir in /tmp")
}

/// A loopback port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// pg_ctl hands `-o` to `/bin/sh`: quote the socket dir.
fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The postmaster's pid from `postmaster.pid`, when there is one.
fn postmaster_pid(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Whether `pid` is a live process (a zombie is not).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_running(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The last few lines of a tool's output, joined into one line for an error message.
fn last_lines(first: &[u8], second: &[u8]) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(first),
        String::from_utf8_lossy(second)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn versions_sort_numerically_newest_first() {
        let mut v: Vec<String> = ["9.6", "15", "10", "17", "16beta2", "README"]
            .map(String::from)
            .to_vec();
        sort_newest_first(&mut v);
        assert_eq!(v, ["17", "16beta2", "15", "10", "9.6", "README"]);
    }

    fn fake_bin(root: &Path, version: &str, programs: &[&str]) -> PathBuf {
        let bin = root.join(version).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for p in programs {
            let path = bin.join(p);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        bin
    }

    #[test]
    fn newest_complete_bin_dir_wins() {
        let root = tempfile::tempdir().unwrap();
        fake_bin(root.path(), "9.6", &["initdb", "pg_ctl"]);
        let v15 = fake_bin(root.path(), "15", &["initdb", "pg_ctl"]);
        // Newer, but without pg_ctl (a half-installed version): skipped.
        fake_bin(root.path(), "16", &["initdb"]);
        let nothing = OsStr::new("/nonexistent");
        assert_eq!(find_bin_dir(Some(nothing), root.path()), Some(v15));
        assert_eq!(find_bin_dir(None, &root.path().join("missing")), None);
    }

    #[test]
    fn path_comes_first_with_symlinks_resolved() {
        let root = tempfile::tempdir().unwrap();
        let real = fake_bin(root.path(), "14", &["initdb", "pg_ctl"]);
        let on_path = root.path().join("local-bin");
        std::fs::create_dir(&on_path).unwrap();
        for p in ["initdb", "pg_ctl"] {
            std::os::unix::fs::symlink(real.join(p), on_path.join(p)).unwrap();
        }
        let newer = tempfile::tempdir().unwrap();
        fake_bin(newer.path(), "17", &["initdb", "pg_ctl"]);
        let found = find_bin_dir(Some(on_path.as_os_str()), newer.path()).unwrap();
        assert_eq!(found, std::fs::canonicalize(real).unwrap());
    }

    #[test]
    fn effective_uid_is_the_second_field() {
        let status = "Name:\tx\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid_from_status(status), Some(0));
        assert_eq!(effective_uid_from_status("Name:\tx\n"), None);
    }

    #[test]
    fn liveness_and_shell_quoting() {
        assert!(is_running(std::process::id()));
        assert!(!is_running(u32::MAX));
        assert_eq!(shell_quote(Path::new("/tmp/a b")), "'/tmp/a b'");
        assert_eq!(shell_quote(Path::new("/tmp/it's")), r"'/tmp/it'\''s'");
    }
}
