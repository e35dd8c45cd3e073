//! The pages in real headless Chromium (the machine's own, never a downloaded one): every page
//! loads with no console error, no uncaught exception and no request to a host other than the
//! server's own; the overview's open counts equal the simulator's truth, and its "high" link,
//! clicked, lands on a findings list of exactly that many rows. A full-page screenshot of each
//! page goes to `target/screenshots/`.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel, LogEntrySource};
use chromiumoxide::cdp::browser_protocol::network::{
    EventRequestWillBeSent, EventResponseReceived, EventWebSocketCreated, ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::{CaptureScreenshotFormat, FrameId};
use chromiumoxide::cdp::browser_protocol::target::EventTargetCreated;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
};
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use serde_json::Value;
use sqlx::PgPool;

use crate::support::{free_port, http_get, url_of};

/// How long one browser step (a navigation, a click, a screenshot) may take.
const STEP: Duration = Duration::from_secs(30);
/// Events still arriving after the load: the page is settled once none came for this long.
const QUIET: Duration = Duration::from_millis(300);
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "informational"];
/// The DevTools events the checks read.
const WATCHED: [&str; 8] = [
    "Network.requestWillBeSent",
    "Network.webSocketCreated",
    "Network.responseReceived",
    "Runtime.consoleAPICalled",
    "Runtime.exceptionThrown",
    "Log.entryAdded",
    "Target.targetCreated",
    "Target.attachedToTarget",
];

// ---------------------------------------------------------------------------------------------
// Processes

/// Where the browser is: scripts/lib/chromium.sh exports SIGHTLINE_CHROMIUM; Debian's path
/// otherwise. A missing browser fails the test: it is never skipped.
fn chromium_path() -> PathBuf {
    let path = std::env::var_os("SIGHTLINE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "no Chromium at {}: the browser tests (tests/it/browser.rs) need it. Install it with \
         `apt-get install chromium` (scripts/test does so when run as root), or set \
         SIGHTLINE_CHROMIUM to a Chromium or Chrome binary",
        path.display()
    );
    path
}

/// The last lines of a log file, for a failure message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `sightline` child process, killed when dropped (on a panic too); its output goes to a log
/// file that failure messages quote.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, dir: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sightline {name}: {e}"));
        Proc { name, child, log }
    }

    /// Waits until `url` answers 200, failing with the process's output if it exits first.
    async fn wait_ready(&mut self, url: &str) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "sightline {} exited with {status} before {url} answered:\n{}",
                    self.name,
                    tail(&self.log, 30)
                );
            }
            if http_get(url).await.is_ok() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "sightline {}: {url} did not answer within 60 s:\n{}",
                self.name,
                tail(&self.log, 30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sightline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

// ---------------------------------------------------------------------------------------------
// The browser

/// A headless Chromium of our own with a fresh profile, driven over the DevTools protocol.
/// Dropping it (on a panic too) kills its whole process group: the browser, its renderers and
/// helpers.
struct Chromium {
    browser: Browser,
    child: Child,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Events the driver could not read among those the checks rely on (`WATCHED`): a lost one
    /// could hide a request or an error, so each is a problem.
    unreadable: Arc<Mutex<Vec<String>>>,
    /// Targets a page started besides itself (workers, out-of-process frames, pop-ups): their
    /// traffic is not watched, so each is a problem.
    other_targets: Arc<Mutex<Vec<String>>>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Chromium {
    async fn launch() -> Chromium {
        let path = chromium_path();
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile");
        let log = dir.path().join("chromium.log");
        let out = File::create(&log).unwrap();
        let child = Command::new(&path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--no-default-browser-check",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--mute-audio",
                "--hide-scrollbars",
                "--window-size=1400,900",
                // Nothing but loopback resolves: a stray request is still seen (and reported)
                // before it fails, but never leaves the machine.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                // The port the browser picks is written to <profile>/DevToolsActivePort.
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            // Its own process group, so that Drop can end every process it starts.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        Chromium::connect(child, dir, log).await
    }

    async fn connect(mut child: Child, dir: tempfile::TempDir, log: PathBuf) -> Chromium {
        let port_file = dir.path().join("profile").join("DevToolsActivePort");
        let started = Instant::now();
        let ws = loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "Chromium exited with {status} at start:\n{}",
                    tail(&log, 30)
                );
            }
            // Two lines: the port, then the browser target's path.
            let text = std::fs::read_to_string(&port_file).unwrap_or_default();
            if let Some((port, path)) = text.split_once('\n')
                && path.starts_with("/devtools/browser/")
            {
                break format!("ws://127.0.0.1:{port}{}", path.trim());
            }
            if started.elapsed() > STEP {
                kill_group(&mut child);
                panic!(
                    "Chromium did not open its DevTools port within {STEP:?}:\n{}",
                    tail(&log, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let config = HandlerConfig {
            // Unreadable messages come back to us (below) instead of being dropped quietly.
            ignore_invalid_messages: false,
            // No emulated viewport: the window (1400 px wide) is the viewport.
            viewport: None,
            request_timeout: STEP,
            ..HandlerConfig::default()
        };
        let (browser, mut handler) = match Browser::connect_with_config(&ws, config).await {
            Ok(pair) => pair,
            Err(e) => {
                kill_group(&mut child);
                panic!(
                    "cannot connect to Chromium at {ws}: {e}\n{}",
                    tail(&log, 30)
                );
            }
        };
        let unreadable = Arc::new(Mutex::new(Vec::new()));
        let other_targets = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let sink = unreadable.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(step) = handler.next().await {
                match step {
                    Ok(()) => {}
                    // Chromium is newer than the driver's protocol types, so some events it
                    // sends do not parse; only those the checks read matter.
                    Err(CdpError::InvalidMessage(text, e)) => {
                        let method = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|m| m["method"].as_str().map(str::to_owned));
                        if method.as_deref().is_none_or(|m| WATCHED.contains(&m)) {
                            sink.lock()
                                .unwrap()
                                .push(format!("{e}: {}", clip(&text, 400)));
                        }
                    }
                    Err(e) => {
                        sink.lock()
                            .unwrap()
                            .push(format!("the DevTools connection failed: {e}"));
                        break;
                    }
                }
            }
        }));
        let mut chromium = Chromium {
            browser,
            child,
            tasks,
            unreadable,
            other_targets,
            log,
            _dir: dir,
        };
        let mut created = chromium
            .browser
            .event_listener::<EventTargetCreated>()
            .await
            .unwrap();
        let sink = chromium.other_targets.clone();
        chromium.tasks.push(tokio::spawn(async move {
            while let Some(event) = created.next().await {
                let info = &event.target_info;
                // Chromium's own UI (chrome://) and the tabs the test opens are expected.
                let internal = ["chrome:", "devtools:", "about:"]
                    .iter()
                    .any(|s| info.url.starts_with(s));
                let ours = matches!(info.r#type.as_str(), "page" | "tab" | "browser")
                    && info.opener_id.is_none();
                if !internal && !ours {
                    sink.lock()
                        .unwrap()
                        .push(format!("{} {}", info.r#type, info.url));
                }
            }
        }));
        chromium
    }

    /// Problems of the browser as a whole: messages the driver could not read, targets whose
    /// traffic is not watched.
    fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unreadable
            .lock()
            .unwrap()
            .iter()
            .map(|m| format!("browser: a DevTools message could not be read: {m}"))
            .collect();
        out.extend(
            self.other_targets
                .lock()
                .unwrap()
                .iter()
                .map(|t| format!("browser: a page started a {t} (its requests are not watched)")),
        );
        out
    }

    /// A new tab at `url` (on the server at `origin`, `http://host:port`), watched from before
    /// the first request, loaded and settled.
    async fn open(&self, origin: &str, path: &str) -> Tab {
        let page = step(
            "open a tab",
            self.browser.new_page("about:blank"),
            &self.log,
        )
        .await;
        let mut tab = Tab::watch(page, origin, path).await;
        let url = format!("{origin}{path}");
        if let Err(e) = within(STEP, tab.page.goto(url.as_str())).await {
            tab.failures
                .push(format!("navigation to {url} failed: {e}"));
        } else if let Err(e) = tab.settle(false).await {
            tab.failures.push(e);
        }
        tab
    }
}

/// Kills the process group led by `child` (the browser and everything it started).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Chromium {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        kill_group(&mut self.child);
    }
}

/// Runs a browser step that must succeed, failing the test with Chromium's log if it does not.
async fn step<T>(what: &str, fut: impl Future<Output = chromiumoxide::Result<T>>, log: &Path) -> T {
    match within(STEP, fut).await {
        Ok(v) => v,
        Err(e) => panic!("browser: cannot {what}: {e}\n{}", tail(log, 30)),
    }
}

async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = chromiumoxide::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

// ---------------------------------------------------------------------------------------------
// One tab and what it saw

/// A console error, an uncaught exception or an error the browser logged.
#[derive(Debug, Clone)]
struct Message {
    kind: String,
    text: String,
    url: Option<String>,
    /// A network error the browser logged (a failed load), as opposed to one from a script.
    network: bool,
}

/// Everything a tab saw since it was opened.
#[derive(Debug, Default)]
struct Seen {
    /// The URL of every request the page made, in order.
    requests: Vec<String>,
    /// Responses to documents: (frame, URL, HTTP status).
    documents: Vec<(Option<FrameId>, String, i64)>,
    errors: Vec<Message>,
    warnings: Vec<String>,
    last_event: Option<Instant>,
}

struct Tab {
    page: Page,
    /// Where the tab was first sent, for messages.
    name: String,
    origin: url::Url,
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Steps of the harness that failed on this tab (a navigation, a click).
    failures: Vec<String>,
}

/// Subscribes to the events of type `E`, handing each to `record` with the tab's log.
async fn listen<E>(
    page: &Page,
    seen: &Arc<Mutex<Seen>>,
    record: impl Fn(&E, &mut Seen) + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    E: chromiumoxide::cdp::IntoEventKind + Unpin + Send + Sync + std::fmt::Debug + 'static,
{
    let mut events = within(STEP, page.event_listener::<E>())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "browser: cannot listen to {}: {e}",
                std::any::type_name::<E>()
            )
        });
    let seen = seen.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let mut seen = seen.lock().unwrap();
            record(&event, &mut seen);
            seen.last_event = Some(Instant::now());
        }
    })
}

fn describe(args: &[RemoteObject]) -> String {
    args.iter()
        .map(|a| match (&a.value, &a.description) {
            (Some(Value::String(s)), _) => s.clone(),
            (Some(v), _) => v.to_string(),
            (None, Some(d)) => d.clone(),
            (None, None) => format!("{:?}", a.r#type),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Tab {
    async fn watch(page: Page, origin: &str, path: &str) -> Tab {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tasks = vec![
            listen::<EventRequestWillBeSent>(&page, &seen, |e, s| {
                s.requests.push(format!(
                    "{}{}",
                    e.request.url,
                    e.request.url_fragment.as_deref().unwrap_or("")
                ));
            })
            .await,
            listen::<EventWebSocketCreated>(&page, &seen, |e, s| s.requests.push(e.url.clone()))
                .await,
            listen::<EventResponseReceived>(&page, &seen, |e, s| {
                if e.r#type == ResourceType::Document {
                    s.documents.push((
                        e.frame_id.clone(),
                        e.response.url.clone(),
                        e.response.status,
                    ));
                }
            })
            .await,
            listen::<EventConsoleApiCalled>(&page, &seen, |e, s| {
                let text = describe(&e.args);
                match e.r#type {
                    ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert => {
                        s.errors.push(Message {
                            kind: format!("console.{:?}", e.r#type).to_lowercase(),
                            text,
                            url: None,
                            network: false,
                        })
                    }
                    ConsoleApiCalledType::Warning => {
                        s.warnings.push(format!("console.warn: {text}"))
                    }
                    _ => {}
                }
            })
            .await,
            listen::<EventExceptionThrown>(&page, &seen, |e, s| {
                let d = &e.exception_details;
                let detail = d
                    .exception
                    .as_ref()
                    .and_then(|x| x.description.clone())
                    .unwrap_or_default();
                s.errors.push(Message {
                    kind: "uncaught exception".into(),
                    text: format!("{} {detail}", d.text).trim().to_owned(),
                    url: d.url.clone().map(|u| format!("{u}:{}", d.line_number + 1)),
                    network: false,
                });
            })
            .await,
            listen::<EventEntryAdded>(&page, &seen, |e, s| {
                let entry = &e.entry;
                let source = format!("{:?}", entry.source).to_lowercase();
                match entry.level {
                    LogEntryLevel::Error => s.errors.push(Message {
                        kind: format!("console error ({source})"),
                        text: entry.text.clone(),
                        url: entry.url.clone(),
                        network: entry.source == LogEntrySource::Network,
                    }),
                    LogEntryLevel::Warning => {
                        s.warnings.push(format!("{source} warning: {}", entry.text))
                    }
                    _ => {}
                }
            })
            .await,
        ];
        Tab {
            page,
            name: path.to_owned(),
            origin: url::Url::parse(origin).unwrap(),
            seen,
            tasks,
            failures: Vec::new(),
        }
    }

    /// Waits until the document is complete (after a click: a new document, not the marked
    /// one), then until events stop arriving.
    async fn settle(&self, after_click: bool) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let state = within(
                Duration::from_secs(5),
                self.page
                    .evaluate("[document.readyState, location.href, window.__sightlineOld === 1]"),
            )
            .await
            .and_then(|r| {
                r.into_value::<(String, String, bool)>()
                    .map_err(|e| e.to_string())
            });
            // Errors are expected while a navigation swaps the document: try again.
            if let Ok((ready, href, old)) = &state
                && ready == "complete"
                && href != "about:blank"
                && !(after_click && *old)
            {
                break;
            }
            if started.elapsed() > STEP {
                return Err(format!(
                    "the page did not finish loading within {STEP:?} ({state:?})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let settled = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let last = self.seen.lock().unwrap().last_event;
            if last.is_none_or(|t| t.elapsed() >= QUIET)
                || settled.elapsed() > Duration::from_secs(5)
            {
                return Ok(());
            }
        }
    }

    /// Clicks the element `selector` (a real mouse click) and waits for the page it leads to.
    /// Errors name the page and the selector.
    async fn follow(&mut self, selector: &str) -> Result<(), String> {
        let here = self.location().await;
        let element = within(STEP, self.page.find_element(selector))
            .await
            .map_err(|e| format!("{here}: no element {selector} to click ({e})"))?;
        // Marks the current document, so that its successor is told apart from it.
        within(STEP, self.page.evaluate("window.__sightlineOld = 1"))
            .await
            .map_err(|e| format!("{here}: {e}"))?;
        within(STEP, element.click())
            .await
            .map_err(|e| format!("{here}: cannot click {selector}: {e}"))?;
        self.settle(true)
            .await
            .map_err(|e| format!("{here}: after clicking {selector}: {e}"))
    }

    async fn url(&self) -> String {
        within(STEP, self.page.url())
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Where the tab is, as a path and query on the server, for messages.
    async fn location(&self) -> String {
        let url = self.url().await;
        let origin = self.origin.as_str().trim_end_matches('/');
        match url.strip_prefix(origin) {
            Some(rest) => rest.to_owned(),
            None => url,
        }
    }

    /// The text of the first element matching `selector`.
    async fn text(&self, selector: &str) -> Result<String, String> {
        let here = self.location().await;
        let element = within(STEP, self.page.find_element(selector))
            .await
            .map_err(|_| format!("{here}: no element {selector}"))?;
        within(STEP, element.inner_text())
            .await
            .map_err(|e| format!("{here}: cannot read {selector}: {e}"))
            .map(Option::unwrap_or_default)
    }

    /// The number shown by the element `selector`, thousands separators removed.
    async fn count(&self, selector: &str) -> Result<u64, String> {
        let text = self.text(selector).await?;
        let digits: String = text
            .chars()
            .filter(|c| *c != ',' && !c.is_whitespace())
            .collect();
        digits
            .parse()
            .map_err(|_| format!("{}: {selector} shows {text:?}, not a number", self.name))
    }

    /// The value of `attribute` on every element matching `selector`.
    async fn attributes(&self, selector: &str, attribute: &str) -> Result<Vec<String>, String> {
        let elements = within(STEP, self.page.find_elements(selector))
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for element in elements {
            let value = within(STEP, element.attribute(attribute))
                .await
                .map_err(|e| format!("{}: cannot read {selector}[{attribute}]: {e}", self.name))?;
            out.push(value.unwrap_or_default());
        }
        Ok(out)
    }

    /// A full-page PNG of the tab, saved to `dir/<name>.png`.
    async fn screenshot(&mut self, dir: &Path, name: &str) {
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build();
        match within(STEP, self.page.screenshot(params)).await {
            Ok(png) => std::fs::write(dir.join(format!("{name}.png")), png).unwrap(),
            Err(e) => self.failures.push(format!("no screenshot: {e}")),
        }
    }

    fn same_server(&self, raw: &str) -> bool {
        if raw.starts_with("data:") || raw == "about:blank" || raw == "about:srcdoc" {
            return true;
        }
        // A blob URL names the origin that made it.
        let inner = raw.strip_prefix("blob:").unwrap_or(raw);
        url::Url::parse(inner).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "ws")
                && u.host_str() == self.origin.host_str()
                && u.port_or_known_default() == self.origin.port_or_known_default()
        })
    }

    /// Everything wrong with what the tab saw: each document's status against `status`, requests
    /// to other hosts, console errors and uncaught exceptions, connection hints to other hosts.
    /// When `status` is an error, the browser's report of that document's failed load is
    /// expected; nothing else is.
    async fn problems(&self, status: i64) -> Vec<String> {
        let mut out: Vec<String> = self.failures.clone();
        let main = within(STEP, self.page.mainframe()).await.ok().flatten();
        let hints: Vec<String> = match within(
            STEP,
            self.page.evaluate(
                "Array.from(document.querySelectorAll('link[rel~=preconnect], link[rel~=dns-prefetch]'), l => l.href)",
            ),
        )
        .await
        {
            Ok(r) => r.into_value().unwrap_or_default(),
            Err(e) => {
                out.push(format!("cannot read the page's link hints: {e}"));
                Vec::new()
            }
        };
        let seen = self.seen.lock().unwrap();
        let documents: Vec<&(Option<FrameId>, String, i64)> = seen
            .documents
            .iter()
            .filter(|d| main.is_none() || d.0 == main)
            .collect();
        // Pages clicked through must have been fine; the last one is the one asked about.
        let last = documents.last().map(|d| d.1.as_str());
        if documents.is_empty() {
            out.push("no document was received".into());
        }
        for (i, (_, url, got)) in documents.iter().enumerate() {
            let want = if i + 1 == documents.len() {
                status
            } else {
                200
            };
            if *got != want {
                out.push(format!("{url} answered HTTP {got}, expected {want}"));
            }
        }
        for url in &seen.requests {
            if !self.same_server(url) {
                out.push(format!("request to another host: {url}"));
            }
        }
        for href in hints {
            if !self.same_server(&href) {
                out.push(format!("connection hint to another host: {href}"));
            }
        }
        for m in &seen.errors {
            let expected_failure = status >= 400
                && m.network
                && m.url.is_some()
                && m.url.as_deref() == last
                && m.text.contains(&format!("status of {status}"));
            if !expected_failure {
                let at = m
                    .url
                    .as_deref()
                    .map(|u| format!(" [{u}]"))
                    .unwrap_or_default();
                out.push(format!("{}: {}{at}", m.kind, clip(&m.text, 300)));
            }
        }
        out.into_iter()
            .map(|p| format!("{}: {p}", self.name))
            .collect()
    }

    /// Forgets what the tab saw so far (it has been checked).
    fn forget(&self) {
        *self.seen.lock().unwrap() = Seen::default();
    }

    /// Prints what the tab saw (shown with --nocapture): its requests and warnings.
    fn report(&self, screenshot: &str) {
        let seen = self.seen.lock().unwrap();
        println!(
            "{}: {} requests, {} warnings, screenshot {screenshot}.png",
            self.name,
            seen.requests.len(),
            seen.warnings.len()
        );
        for url in &seen.requests {
            println!("  request {url}");
        }
        for warning in &seen.warnings {
            println!("  warning {warning}");
        }
    }

    async fn close(self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = within(Duration::from_secs(5), self.page.close()).await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// The harness against a page that breaks every rule

const BAD_PAGE: &str = r#"<!doctype html><html><head><title>bad</title></head><body>
<p>A page that breaks the rules.</p>
<img src="http://example.invalid/x.png" alt="">
<script>console.error("x")</script>
<script>throw new Error("boom")</script>
</body></html>"#;

/// A 1×1 PNG inline (data: URLs are allowed) and nothing else.
const CLEAN_PAGE: &str = r#"<!doctype html><html><head><title>clean</title><link rel="icon" href="data:,"></head><body>
<p>A clean page.</p>
<img alt="" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">
<a id="next" href="/missing">on</a>
</body></html>"#;

#[tokio::test]
async fn the_harness_reports_foreign_requests_console_errors_and_exceptions() {
    let app = axum::Router::new()
        .route("/bad", get(|| async { Html(BAD_PAGE) }))
        .route("/clean", get(|| async { Html(CLEAN_PAGE) }))
        .route(
            "/missing",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Html(r#"<!doctype html><html><head><link rel="icon" href="data:,"></head><body>not found</body></html>"#),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let chromium = Chromium::launch().await;

    let tab = chromium.open(&origin, "/bad").await;
    let problems = tab.problems(200).await;
    tab.close().await;
    let has = |needle: &str| {
        problems
            .iter()
            .any(|p| p.starts_with("/bad: ") && p.contains(needle))
    };
    assert!(
        has("request to another host: http://example.invalid/x.png"),
        "the foreign image is not reported: {problems:#?}"
    );
    assert!(
        has("console.error: x"),
        "console.error is not reported: {problems:#?}"
    );
    assert!(
        has("uncaught exception") && has("boom"),
        "the exception is not reported: {problems:#?}"
    );

    // A data: image is fine, and so is the failed load of a page expected to be missing; a real
    // click leads from one to the other.
    let mut tab = chromium.open(&origin, "/clean").await;
    assert_eq!(tab.problems(200).await, Vec::<String>::new());
    tab.follow("a#next").await.unwrap();
    assert!(tab.url().await.ends_with("/missing"), "{}", tab.url().await);
    assert_eq!(tab.problems(404).await, Vec::<String>::new());
    // The same 404 where a page was expected is reported, with the browser's own console error.
    let problems = tab.problems(200).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/missing answered HTTP 404, expected 200")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("console error (network)") && p.contains("404")),
        "{problems:#?}"
    );
    tab.close().await;
    assert_eq!(chromium.problems(), Vec::<String>::new());
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// Every page of the product

/// Open findings per severity in the simulator's truth.
fn open_by_severity(truth: &Value) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = SEVERITIES.iter().map(|s| (s.to_string(), 0)).collect();
    for group in truth["findings"].as_array().unwrap() {
        if group["status"] == "open" {
            *out.entry(group["severity"].as_str().unwrap().to_owned())
                .or_default() += group["count"].as_u64().unwrap();
        }
    }
    out
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn every_page_loads_clean_and_the_overview_counts_match_the_truth(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let db = url_of(&pool).await;

    // The simulated organisation, polled once into the test's database, served without a poller.
    let sim_url = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = sightline();
    cmd.args([
        "simulate",
        "--seed",
        "1",
        "--listen",
        &sim_url["http://".len()..],
    ]);
    let mut sim = Proc::spawn("simulate", cmd, dir.path());
    sim.wait_ready(&format!("{sim_url}/_sim/config")).await;
    let server = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("sightline.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{server}\"\n{}",
            http_get(&format!("{sim_url}/_sim/config")).await.unwrap()
        ),
    )
    .unwrap();
    let toml: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let account = toml["accounts"][0]["id"].as_str().unwrap().to_owned();
    let region = toml["aws"]["regions"][0].as_str().unwrap().to_owned();

    let mut poll = sightline();
    poll.env("DATABASE_URL", &db)
        .arg("--config")
        .arg(&config)
        .args(["poll", "--once"]);
    let out = tokio::task::spawn_blocking(move || poll.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "poll --once failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value =
        serde_json::from_str(&http_get(&format!("{sim_url}/_sim/truth")).await.unwrap()).unwrap();
    let open = open_by_severity(&truth);
    let open_total: u64 = open.values().sum();
    assert!(
        open["high"] > 0,
        "the simulated organisation has no open high findings: {open:?}"
    );

    let mut serve = sightline();
    serve
        .env("DATABASE_URL", &db)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--no-poller"]);
    let mut serve = Proc::spawn("serve", serve, dir.path());
    let origin = format!("http://{server}");
    serve.wait_ready(&format!("{origin}/healthz")).await;

    let chromium = Chromium::launch().await;
    let shots = screenshot_dir();
    let mut problems: Vec<String> = Vec::new();

    // The overview: its open counts are the truth's.
    let mut tab = chromium.open(&origin, "/").await;
    tab.screenshot(&shots, "overview").await;
    let mut shown_high = None;
    for severity in SEVERITIES {
        let selector = format!("a[data-count=\"open-severity-{severity}\"]");
        match tab.count(&selector).await {
            Ok(n) => {
                if n != open[severity] {
                    problems.push(format!(
                        "/: {selector} shows {n}, the truth has {} open {severity} findings",
                        open[severity]
                    ));
                }
                if severity == "high" {
                    shown_high = Some(n);
                }
            }
            Err(e) => problems.push(e),
        }
        let href = tab.attributes(&selector, "href").await.unwrap_or_default();
        let want = format!("/findings?status=open&severity={severity}");
        if href.first().is_some_and(|h| *h != want) {
            problems.push(format!(
                "/: {selector} links to {:?}, expected {want}",
                href[0]
            ));
        }
    }
    match tab.count("[data-count=\"open-total\"]").await {
        Ok(n) if n == open_total => {}
        Ok(n) => problems.push(format!(
            "/: open-total shows {n}, the truth has {open_total} open findings"
        )),
        Err(e) => problems.push(e),
    }
    problems.extend(tab.problems(200).await);
    tab.report("overview");

    // Its "high" link, clicked, lands on a list of exactly that many findings, page by page.
    if let Some(high) = shown_high {
        // What the overview did is reported above; from here on, the pages it leads to.
        tab.forget();
        tab.name = "/ → open high findings".into();
        match tab.follow("a[data-count=\"open-severity-high\"]").await {
            Err(e) => problems.push(e),
            Ok(()) => {
                let landed = tab.location().await;
                match tab.count("[data-count=\"findings-total\"]").await {
                    Ok(n) if n == high => {}
                    Ok(n) => problems.push(format!(
                        "{landed}: findings-total shows {n}, the overview's high link says {high}"
                    )),
                    Err(e) => problems.push(e),
                }
                let mut ids = HashSet::new();
                let mut pages = 1;
                loop {
                    let here = tab.location().await;
                    match tab
                        .attributes("tr[data-finding-id]", "data-finding-id")
                        .await
                    {
                        Ok(rows) => {
                            for id in rows {
                                if !ids.insert(id.clone()) {
                                    problems.push(format!("{here}: finding {id} listed twice"));
                                }
                            }
                        }
                        Err(e) => problems.push(e),
                    }
                    let next = tab
                        .attributes("a[rel=\"next\"]", "href")
                        .await
                        .unwrap_or_default();
                    if next.is_empty() {
                        break;
                    }
                    if pages >= 1000 {
                        problems.push(format!("{here}: still a next page after 1000 pages"));
                        break;
                    }
                    if let Err(e) = tab.follow("a[rel=\"next\"]").await {
                        problems.push(e);
                        break;
                    }
                    pages += 1;
                }
                if ids.len() as u64 != high {
                    problems.push(format!(
                        "{landed}: {} rows over {pages} pages, the overview's high link says {high}",
                        ids.len()
                    ));
                }
                println!("overview → high: {} rows over {pages} pages", ids.len());
            }
        }
        problems.extend(tab.problems(200).await);
    }
    tab.close().await;

    // Every other page: loads clean, and leaves a screenshot.
    let findings = chromium.open(&origin, "/findings").await;
    let finding_id = findings
        .attributes("tr[data-finding-id]", "data-finding-id")
        .await
        .ok()
        .and_then(|ids| ids.into_iter().next());
    findings.close().await;
    let mut pages: Vec<(String, String, i64)> = vec![
        ("accounts".into(), "/accounts".into(), 200),
        ("account".into(), format!("/accounts/{account}"), 200),
        ("regions".into(), "/regions".into(), 200),
        ("region".into(), format!("/regions/{region}"), 200),
        ("findings".into(), "/findings".into(), 200),
        (
            "findings-high-open".into(),
            "/findings?severity=high&status=open".into(),
            200,
        ),
        ("coverage".into(), "/coverage".into(), 200),
        ("status".into(), "/status".into(), 200),
        ("trends".into(), "/trends".into(), 200),
        ("baseline".into(), "/baseline".into(), 200),
        ("not-found".into(), "/accounts/000000000000".into(), 404),
        ("bad-request".into(), "/findings?severity=bogus".into(), 400),
    ];
    match finding_id {
        Some(id) => pages.insert(6, ("finding".into(), format!("/findings/{id}"), 200)),
        None => problems.push("/findings: no tr[data-finding-id] to open a finding from".into()),
    }
    for (name, path, status) in &pages {
        let mut tab = chromium.open(&origin, path).await;
        tab.screenshot(&shots, name).await;
        if name == "findings-high-open" {
            match tab.count("[data-count=\"findings-total\"]").await {
                Ok(n) if n == open["high"] => {}
                Ok(n) => problems.push(format!(
                    "{path}: findings-total shows {n}, the truth has {} open high findings",
                    open["high"]
                )),
                Err(e) => problems.push(e),
            }
        }
        problems.extend(tab.problems(*status).await);
        tab.report(name);
        tab.close().await;
    }
    problems.extend(chromium.problems());

    assert!(
        problems.is_empty(),
        "{} problems in the browser (screenshots in {}):\n{}",
        problems.len(),
        shots.display(),
        problems.join("\n")
    );
}
