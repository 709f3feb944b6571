//! A headless Chromium driven over WebDriver: chromedriver on a free loopback port, W3C WebDriver
//! JSON through a blocking HTTP client, every wait bounded, chromedriver killed by its PID.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Where the browser and its driver are, if installed.
pub struct BrowserPaths {
    /// The Chromium executable.
    pub chromium: PathBuf,
    /// The matching chromedriver.
    pub chromedriver: PathBuf,
}

impl BrowserPaths {
    /// Looks for Debian's `chromium` and `chromedriver` (`CHROMIUM`, `CHROMEDRIVER` override).
    pub fn find() -> Option<BrowserPaths> {
        let pick = |var: &str, names: &[&str]| -> Option<PathBuf> {
            if let Some(p) = std::env::var_os(var) {
                return Some(PathBuf::from(p)).filter(|p| p.is_file());
            }
            let path = std::env::var_os("PATH").unwrap_or_default();
            names.iter().find_map(|n| {
                std::env::split_paths(&path)
                    .map(|d| d.join(n))
                    .find(|p| p.is_file())
            })
        };
        Some(BrowserPaths {
            chromium: pick("CHROMIUM", &["chromium", "chromium-browser"])?,
            chromedriver: pick("CHROMEDRIVER", &["chromedriver"])?,
        })
    }
}

/// One browser session; dropping it ends the session and kills chromedriver.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

/// A handle to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a fresh profile in `dir`.
    pub fn start(paths: &BrowserPaths, dir: &Path) -> anyhow::Result<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.join("chromedriver.log"))?;
        let driver = Command::new(&paths.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", paths.chromedriver.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = b
                .agent
                .get(format!("{}/status", b.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not answer on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile)?;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--hide-scrollbars",
            "--window-size=1280,800",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": paths.chromium, "args": args},
        }}});
        let v = b.call("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .context("no sessionId in the new session's answer")?
            .to_string();
        Ok(b)
    }

    /// One WebDriver command; returns its `value`, or the driver's error as an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut resp = resp.with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let v: Value = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_json()
            .with_context(|| format!("{method} {path}: not JSON"))?;
        if !status.is_success() {
            bail!(
                "{method} {path}: {} {}",
                v["value"]["error"],
                v["value"]["message"]
            );
        }
        Ok(v["value"].clone())
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{}", self.session, rest)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })))
            .map(|_| ())
    }

    /// The current URL.
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(self
            .call("GET", &self.s("/url"), None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The first element matching `css`, if there is one now.
    pub fn find(&self, css: &str) -> Option<Element> {
        let v = self
            .call(
                "POST",
                &self.s("/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        // The W3C element reference is an object with one key.
        let id = v.as_object()?.values().next()?.as_str()?;
        Some(Element(id.to_string()))
    }

    /// Waits up to `limit` for an element matching `css`.
    pub fn wait_for(&self, css: &str, limit: Duration) -> anyhow::Result<Element> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.find(css) {
                return Ok(e);
            }
            if Instant::now() > deadline {
                bail!(
                    "no element {css:?} within {limit:?}; the page says: {}",
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to `limit` until the script (a function body returning a value) returns true.
    pub fn wait_until(&self, what: &str, script: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.execute(script).ok() == Some(Value::Bool(true)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{what}: not within {limit:?}; the page says: {}",
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.call("POST", &self.s(&format!("/element/{}/click", e.0)), None)
            .map(|_| ())
    }

    /// Waits for `css` and clicks it.
    pub fn click_css(&self, css: &str, limit: Duration) -> anyhow::Result<()> {
        let e = self.wait_for(css, limit)?;
        self.click(&e)
    }

    /// Clears an input and types `text` into it.
    pub fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.wait_for(css, Duration::from_secs(10))?;
        self.call("POST", &self.s(&format!("/element/{}/clear", e.0)), None)?;
        self.call(
            "POST",
            &self.s(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// The text of the first element matching `css` ("" if there is none).
    pub fn text(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : '';",
            json!(css)
        );
        self.execute(&script)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Runs a script (a function body) in the page and returns what it returns.
    pub fn execute(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The visible text of the page, for failure messages.
    pub fn page_text(&self) -> String {
        self.execute("return document.body ? document.body.innerText : ''")
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('\n', " | ")))
            .unwrap_or_default()
    }

    /// The browser's console messages since the last call (errors included).
    pub fn console(&self) -> Vec<String> {
        self.call("POST", &self.s("/se/log"), Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect()
    }

    /// Saves a PNG of the viewport at `path`.
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        use base64::Engine;
        let v = self.call("GET", &self.s("/screenshot"), None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().context("screenshot is not a string")?)?;
        std::fs::write(path, png)?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.s(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
