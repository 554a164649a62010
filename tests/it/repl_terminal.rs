//! `netc repl` on a terminal (a pseudo-terminal): Tab completes, and history written by one
//! session is recalled with the Up arrow in the next.
#![cfg(unix)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A REPL running on a pseudo-terminal, with everything it printed collected.
struct Terminal {
    child: Child,
    keys: File,
    screen: Arc<Mutex<String>>,
}

impl Terminal {
    fn start(history: &Path) -> Terminal {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave = File::from(pty.slave);
        let io = |f: &File| Stdio::from(f.try_clone().expect("a terminal handle"));
        let xor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/xor.net");
        let child = Command::new(env!("CARGO_BIN_EXE_netc"))
            .arg("repl")
            .arg(xor)
            .env("NETC_HISTORY", history)
            .env("TERM", "xterm")
            .stdin(io(&slave))
            .stdout(io(&slave))
            .stderr(io(&slave))
            .spawn()
            .expect("netc starts");
        drop(slave);
        let master = File::from(pty.master);
        let keys = master.try_clone().expect("a terminal handle");
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut master = master;
            let mut buf = [0u8; 4096];
            // Reading ends with an error once the child has closed the terminal.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Terminal {
            child,
            keys,
            screen,
        }
    }

    fn press(&mut self, keys: &str) {
        self.keys
            .write_all(keys.as_bytes())
            .expect("keys reach the terminal");
        self.keys.flush().expect("keys reach the terminal");
    }

    /// Waits until the screen shows `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        let start = Instant::now();
        loop {
            let screen = self.screen.lock().map(|s| s.clone()).unwrap_or_default();
            if screen.matches(text).count() >= times {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {text:?} ×{times}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the REPL did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn tab_completes_and_history_outlives_the_session() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let history = dir.path().join("netc").join("history");

    let mut first = Terminal::start(&history);
    first.wait_for("netc> ", 1);
    // `:set hidden.ac` + Tab completes the attribute, `re` + Tab the activation.
    first.press(":set hidden.ac\t = re\t\r");
    first.wait_for("ok: set hidden.act = relu", 1);
    first.press(":quit\r");
    first.finish();
    let saved = std::fs::read_to_string(&history).expect("the history file");
    assert!(saved.contains(":set hidden.act = relu"), "{saved}");

    let mut second = Terminal::start(&history);
    second.wait_for("netc> ", 1);
    // Up twice: past `:quit` to the `:set` line of the first session.
    second.press("\x1b[A\x1b[A\r");
    second.wait_for("ok: set hidden.act = relu", 1);
    second.press("\x04");
    second.finish();
}
