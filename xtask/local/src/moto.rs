//! moto server, the local AWS emulator: started on a free loopback port, stopped on drop.
//!
//! The deploy tests and `cargo xtask dev` share it; `cargo xtask moto` runs one in the
//! foreground. What moto does and does not do with our template is handled by
//! `xtask_ops::deploy::local`.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use xtask_tools::moto_command as command;

use crate::http;

/// How long the first start may take (Python imports, a cold disk).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server. Dropping it stops moto; so does the end of this process, however it
/// ends (even `kill -9`): moto runs under a small shell that stops it when a pipe from this
/// process closes, so a static server of a test binary or an interrupted `cargo xtask dev`
/// leaves no orphan behind.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`: what `--endpoint-url` takes.
    pub endpoint: String,
    pub port: u16,
    /// The shell moto runs under; it exits when moto does.
    child: Child,
    /// The pipe whose end stops moto.
    lifeline: Option<ChildStdin>,
    log: PathBuf,
    keep_log: bool,
}

/// The shell around moto: moto in the background, a watcher that stops it when standard input
/// (the lifeline) closes, and the shell's own exit when moto exits (so a failed start is seen).
/// An asynchronous list's standard input is /dev/null in a shell without job control (POSIX,
/// "Asynchronous Lists"), hence the lifeline on descriptor 3.
const SUPERVISOR: &str =
    r#"exec 3<&0; "$@" & m=$!; { cat <&3 >/dev/null; kill "$m" 2>/dev/null; } & wait "$m""#;

impl MotoServer {
    /// Installs moto if needed (`.tools/`), starts it on a free loopback port and waits until it
    /// answers. It runs through the project's launcher ([`command`]: DynamoDB requests
    /// serialized). Its output goes to a log file (see [`MotoServer::log_path`]), removed on drop.
    pub fn start() -> Result<MotoServer> {
        let mut last_error = None;
        // A free port can be taken between the probe and moto's bind: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(port) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("moto server did not start")))
    }

    /// Starts moto on a given loopback port (fails if it is taken).
    pub fn start_on(port: u16) -> Result<MotoServer> {
        Self::launch(port, log_path(port), false)
    }

    /// Starts moto on a given loopback port with its output in `log`, which stays after moto
    /// stops (`cargo xtask dev` points users at it).
    pub fn start_logged(port: u16, log: PathBuf) -> Result<MotoServer> {
        Self::launch(port, log, true)
    }

    fn launch(port: u16, log: PathBuf, keep_log: bool) -> Result<MotoServer> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let out =
            File::create(&log).with_context(|| format!("cannot create the moto log {}", log.display()))?;
        let err = out.try_clone().context("cannot share the moto log file")?;
        let moto = command("127.0.0.1", port)?;
        let mut child = Command::new("sh")
            .args(["-c", SUPERVISOR, "moto"])
            .arg(moto.get_program())
            .args(moto.get_args())
            .envs(moto.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("cannot start moto server (sh, and python3 in the tools folder)")?;
        let lifeline = child.stdin.take();
        let mut server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
            lifeline,
            log,
            keep_log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("cannot watch the moto process")? {
                bail!(
                    "moto server exited ({status}) before answering on port {}:\n{}",
                    self.port,
                    self.log_tail(20)
                );
            }
            if moto_api(self.port, "GET", "/moto-api/").is_ok_and(|status| status == 200) {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                bail!(
                    "moto server did not answer on port {} within {}s:\n{}",
                    self.port,
                    READY_TIMEOUT.as_secs(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The file moto's output (request log, tracebacks) goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of moto's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Wipes moto's state (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<()> {
        let status = moto_api(self.port, "POST", "/moto-api/reset")?;
        if status != 200 {
            bail!("moto reset answered HTTP {status}");
        }
        Ok(())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Closing the lifeline stops moto; the shell then exits with it.
        drop(self.lifeline.take());
        let _ = self.child.wait();
        if !self.keep_log {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// The log file of a moto server on a port.
fn log_path(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("orders-moto-{port}.log"))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free loopback port")?;
    Ok(listener
        .local_addr()
        .context("cannot read the probe socket's port")?
        .port())
}

/// One request to moto's own API on a loopback port; the status code.
fn moto_api(port: u16, method: &str, path: &str) -> Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    Ok(http::request(addr, method, path, &[], b"", Duration::from_secs(5))?.status)
}

/// The last error line of a Python traceback in moto's log (`KeyError: 'X'`), if any: why moto
/// answered HTTP 500.
pub fn last_traceback_error(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last)"))?;
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("127.0.0.1 - -"))
        .filter(|l| !l.starts_with(' ') && !l.trim().is_empty())
        .filter(|l| !l.starts_with("During handling") && !l.starts_with("The above exception"))
        .last()
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_traceback_line_is_the_reason() {
        let log = "127.0.0.1 - - [x] \"POST / HTTP/1.1\" 200 -\n\
                   Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    x()\n\
                   KeyError: 'old'\n\
                   Traceback (most recent call last):\n  File \"b.py\", line 2, in g\n    y()\n\
                   moto.dynamodb.exceptions.ResourceInUseException: Table already exists\n\
                   127.0.0.1 - - [x] \"POST / HTTP/1.1\" 500 -\n";
        assert_eq!(
            last_traceback_error(log).as_deref(),
            Some("moto.dynamodb.exceptions.ResourceInUseException: Table already exists")
        );
        assert_eq!(last_traceback_error("no errors\n"), None);
    }
}
