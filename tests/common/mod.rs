//! Helpers shared by the test files in tests/.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flow_diagnostics::{Color, Diagnostic};

/// The demo secrets of the examples (the fake API accepts these).
pub(crate) const DEMO_SECRETS: [(&str, &str); 7] = [
    ("SHOP_TOKEN", "demo-shop-token"),
    ("CRM_API_KEY", "demo-crm-key"),
    ("DESK_USER", "demo"),
    ("DESK_PASSWORD", "demo-desk-password"),
    ("CHAT_TOKEN", "demo-chat-token"),
    ("DIRECTORY_KEY", "demo-directory-key"),
    ("MAIL_TOKEN", "demo-mail-token"),
];

/// What a run of the flowc binary gave.
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The flowc binary as the tests run it: from the workspace root, without colour, and of the
/// demo secrets only those in `env` in its environment.
fn flowc_command<A: AsRef<std::ffi::OsStr>>(args: &[A], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"));
    cmd.current_dir(root()).args(args).env("NO_COLOR", "1");
    for (name, _) in DEMO_SECRETS {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the flowc binary from the workspace root, so paths in its output are relative and
/// stable; of the demo secrets only those in `env` are in its environment.
pub(crate) fn flowc<A: AsRef<std::ffi::OsStr>>(args: &[A], env: &[(&str, &str)]) -> Output {
    let out = flowc_command(args, env).output().expect("run flowc");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh, empty folder for one test's files: `flowc-SUITE-PID-TEST` in the temp folder.
pub(crate) fn scratch_dir(suite: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowc-{suite}-{}-{}", std::process::id(), test.replace('/', "-")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A fresh folder with `source` written in it as `flow.flow` (a state store lands beside it).
pub(crate) fn scratch_source(suite: &str, test: &str, source: &str) -> (PathBuf, String) {
    let dir = scratch_dir(suite, test);
    let file = dir.join("flow.flow");
    std::fs::write(&file, source).expect("write the flow");
    (dir, file.display().to_string())
}

/// A fresh folder with the repository's `.flow` file `flow` copied in (for files a run writes).
pub(crate) fn scratch_copy(suite: &str, test: &str, flow: &str) -> (PathBuf, String) {
    let dir = scratch_dir(suite, test);
    let target = dir.join(Path::new(flow).file_name().expect("file name"));
    std::fs::copy(root().join(flow), &target).expect("copy flow");
    (dir, target.display().to_string())
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The `.flow` files of a folder below the root, sorted.
pub(crate) fn flow_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
}

/// Parses and checks a source; the rendered diagnostics (no colour) and the diagnostics.
pub(crate) fn check(name: &str, source: &str) -> (String, Vec<Diagnostic>) {
    let checked = flow_check::check_source(source);
    let rendered = flow_diagnostics::render_diagnostics(name, source, &checked.diagnostics, Color::Never);
    (rendered, checked.diagnostics)
}

/// The file name relative to the root, with forward slashes, for stable snapshots.
pub(crate) fn display(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

pub(crate) fn stem(path: &Path) -> String {
    path.file_stem().expect("file stem").to_string_lossy().into_owned()
}
pub(crate) mod run_cases;

/// Runs `f` with a fake API serving `config` on a tokio runtime of its own: the test itself stays
/// synchronous and runs the flowc binary against `api.url()`.
pub(crate) fn with_fake<T>(config: flow_fakeapi::Config, f: impl FnOnce(&flow_fakeapi::FakeApi) -> T) -> T {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let api = rt.block_on(flow_fakeapi::FakeApi::start(config, 0)).expect("start the fake API");
    let out = f(&api);
    drop(api);
    out
}

/// A flowc process of a test, started from the workspace root, its stderr read line by line on
/// a thread of its own (so a test can wait for what it says while it runs).
pub(crate) struct Child {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Child {
    /// Starts flowc with `args`; of the demo secrets only those in `env` are in its environment.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Child {
        use std::io::BufRead;
        let mut child = flowc_command(args, env)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start flowc");
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Child { child, lines, stderr: Vec::new() }
    }

    /// Waits until `reached` holds (`what` says what that is), while the process runs.
    /// Synchronised on what the test observes; the bound only ends a test that went wrong.
    pub(crate) fn wait_until(&mut self, what: &str, mut reached: impl FnMut() -> bool) {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !reached() {
            assert!(std::time::Instant::now() < give_up, "flowc never {what}");
            assert!(self.child.try_wait().expect("wait").is_none(), "flowc ended before it {what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Sends the signal `name` (`INT`, `TERM`, `KILL`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill").args(["-s", name, &pid]).status().expect("kill");
        assert!(status.success());
    }

    /// Reads stderr until a line containing `text` (the process said it), and returns it.
    pub(crate) fn said(&mut self, text: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("flowc never said {text:?}: {:?}", self.stderr));
            self.stderr.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The exit code, and all of stderr.
    pub(crate) fn end(mut self) -> (i32, String) {
        let status = self.child.wait().expect("wait");
        self.stderr.extend(self.lines.iter());
        (status.code().unwrap_or(-1), self.stderr.join("\n"))
    }
}
