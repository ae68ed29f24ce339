//! moto server, the local AWS emulator: started on a free loopback port, stopped on drop.
//!
//! The deploy tests and `cargo xtask dev` share it; `cargo xtask moto` runs one in the
//! foreground. What moto does and does not do with our template is handled by
//! [`crate::deploy::local`].

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tools;

/// How long the first start may take (Python imports, a cold disk).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server. Dropping it kills the process.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`: what `--endpoint-url` takes.
    pub endpoint: String,
    pub port: u16,
    /// The process; killed (and reaped) on drop.
    pub child: Child,
    log: PathBuf,
}

impl MotoServer {
    /// Installs moto if needed (`.tools/`), starts it on a free loopback port and waits until it
    /// answers. It runs through the project's launcher ([`tools::moto_command`]: DynamoDB
    /// requests serialized). Its output goes to a log file (see [`MotoServer::log_path`]).
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
        let log = log_path(port);
        let out =
            File::create(&log).with_context(|| format!("cannot create the moto log {}", log.display()))?;
        let err = out.try_clone().context("cannot share the moto log file")?;
        let child = tools::moto_command("127.0.0.1", port)?
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("cannot start moto server")?;
        let mut server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
            log,
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
            if http_get(self.port, "/moto-api/").is_ok_and(|status| status == 200) {
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
        let status = http_request(self.port, "POST", "/moto-api/reset")?;
        if status != 200 {
            bail!("moto reset answered HTTP {status}");
        }
        Ok(())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
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

fn http_get(port: u16, path: &str) -> Result<u16> {
    http_request(port, "GET", path)
}

/// A minimal HTTP/1.0 request to moto; returns the status code.
fn http_request(port: u16, method: &str, path: &str) -> Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer: {line:?}"))?;
    Ok(status)
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
