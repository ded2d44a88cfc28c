//! End-to-end tests of the real `gralloc-allocator` daemon and the `gralloc` client: each test
//! starts the daemon binary on its own temporary unix socket with `usage-map/boards/host.toml`
//! (memfd heap), drives it through the CLI binary, and checks the outputs, exit codes, the
//! SIGTERM shutdown and that the daemon holds no buffer or extra fd after serving.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const DAEMON: &str = env!("CARGO_BIN_EXE_gralloc-allocator");
const CLIENT: &str = env!("CARGO_BIN_EXE_gralloc");
const READY_PREFIX: &str = "gralloc-allocator: serving ";
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn host_board() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../usage-map/boards/host.toml")
}

/// A running daemon; killed on drop if a test did not stop it.
struct Daemon {
    child: Child,
    socket: PathBuf,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts the daemon on a fresh socket with `board` and waits for its readiness line.
    fn start(board: &Path) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("allocator.sock");
        let mut child = Command::new(DAEMON)
            .arg("--board")
            .arg(board)
            .arg("--socket")
            .arg(&socket)
            .args(["--threads", "2"])
            .env("GRALLOC_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gralloc-allocator");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr pipe");
        let reader = std::thread::spawn({
            let stderr = Arc::clone(&stderr);
            move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if line.starts_with(READY_PREFIX) {
                        let _ = ready_tx.send(line.clone());
                    }
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            }
        });
        let mut daemon = Daemon { child, socket, stderr, reader: Some(reader), _dir: dir };
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => {
                let expected =
                    format!("{READY_PREFIX}unix:{} (board host)", daemon.socket.display());
                assert_eq!(line, expected);
            }
            Err(_) => {
                let status = daemon.child.try_wait().ok().flatten();
                panic!("daemon not ready (status {status:?}); stderr:\n{}", daemon.stderr_text());
            }
        }
        daemon
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn endpoint(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Runs `gralloc --connect <this daemon> ARGS`.
    fn client(&self, args: &[&str]) -> Output {
        let mut all = vec!["--connect".to_owned(), self.endpoint()];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        gralloc(&all)
    }

    /// Sends `signal` and waits for the exit; returns the status and the whole stderr.
    fn stop_with(mut self, signal: Signal) -> (ExitStatus, String) {
        kill(Pid::from_raw(i32::try_from(self.pid()).unwrap()), signal).expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "daemon ignored {signal}:\n{}", self.stderr_text());
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr reader");
        }
        (status, self.stderr_text())
    }

    fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("read /proc/<pid>/fd").count()
    }

    /// Fd targets of the daemon that are buffers (memfd or dma-buf).
    fn buffer_fds(&self) -> Vec<String> {
        let dir = format!("/proc/{}/fd", self.pid());
        std::fs::read_dir(&dir)
            .expect("read /proc/<pid>/fd")
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|t| t.to_string_lossy().into_owned())
            .filter(|t| {
                t.starts_with("/memfd:") || t.starts_with("/dmabuf") || t == "anon_inode:dmabuf"
            })
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn gralloc(args: &[String]) -> Output {
    Command::new(CLIENT)
        .args(args)
        .env_remove("GRALLOC_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run gralloc")
}

fn gralloc_str(args: &[&str]) -> Output {
    gralloc(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a successful run and returns its stdout.
fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

const ALLOC_64: [&str; 9] = [
    "alloc",
    "--width",
    "64",
    "--height",
    "64",
    "--format",
    "RGBA_8888",
    "--usage",
    "CPU_READ_OFTEN,CPU_WRITE_OFTEN",
];

#[test]
fn the_readme_allocation_succeeds_and_reports_its_heap() {
    let daemon = Daemon::start(&host_board());
    let out = ok(&daemon.client(&ALLOC_64));
    assert!(out.contains("stride: 64 pixels"), "{out}");
    assert!(out.contains("buffers: 1"), "{out}");
    // memfd, or a dma-buf exported by udmabuf when the host has /dev/udmabuf.
    assert!(
        out.contains("buffer 0: from memfd") || out.contains("buffer 0: from udmabuf"),
        "{out}"
    );
    assert!(
        out.contains("64x64 layers 1 format RGBA_8888 usage CPU_READ_OFTEN|CPU_WRITE_OFTEN"),
        "{out}"
    );
    assert!(out.contains("stride 64 px / 256 bytes"), "{out}");
}

#[test]
fn alloc_json_is_one_document_with_every_buffer() {
    let daemon = Daemon::start(&host_board());
    let mut args = ALLOC_64.to_vec();
    args.extend(["--count", "3", "--json", "--name", "e2e-json"]);
    let out = ok(&daemon.client(&args));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(doc["stride"], 64);
    assert_eq!(doc["count"], 3);
    let buffers = doc["buffers"].as_array().expect("buffers array");
    assert_eq!(buffers.len(), 3);
    let mut ids = Vec::new();
    for b in buffers {
        let h = &b["handle"];
        assert_eq!(h["width"], 64);
        assert_eq!(h["format_name"], "RGBA_8888");
        assert_eq!(h["stride_bytes"], 256);
        assert!(h["alloc_size"].as_u64().unwrap() >= 64 * 64 * 4);
        assert!(b["fd_size"].as_u64().unwrap() >= h["alloc_size"].as_u64().unwrap());
        assert!(["memfd", "udmabuf"].contains(&b["exporter"].as_str().unwrap()), "{b}");
        ids.push(h["buffer_id"].as_u64().unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "buffer ids must be distinct");
}

#[test]
fn refusals_exit_2_with_the_allocation_error_name() {
    let daemon = Daemon::start(&host_board());
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--width",
                "0",
                "--height",
                "64",
                "--format",
                "RGBA_8888",
                "--usage",
                "CPU_READ_OFTEN",
            ],
            "BAD_DESCRIPTOR",
        ),
        (
            &["--width", "64", "--height", "64", "--format", "0x3C", "--usage", "CPU_READ_OFTEN"],
            "UNSUPPORTED",
        ),
        (
            &["--width", "64", "--height", "64", "--format", "RGBA_8888", "--usage", "PROTECTED"],
            "UNSUPPORTED",
        ),
        (
            &["--width", "64", "--height", "64", "--format", "RGBA_8888", "--usage", "0x200000000"],
            "UNSUPPORTED",
        ),
    ];
    for (fields, name) in cases {
        let mut args = vec!["alloc"];
        args.extend_from_slice(fields);
        let out = daemon.client(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with(&format!("gralloc: {name}: ")),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        let mut supported = vec!["is-supported"];
        supported.extend_from_slice(fields);
        assert_eq!(ok(&daemon.client(&supported)), "false\n", "{args:?}");
    }
    let mut count = ALLOC_64.to_vec();
    count.extend(["--count", "-1"]);
    let out = daemon.client(&count);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("BAD_DESCRIPTOR"), "{}", text(&out.stderr));
    // Every refusal was logged once, with decoded usage names.
    let log = daemon.stderr_text();
    assert!(log.contains("usage PROTECTED"), "{log}");
}

#[test]
fn bench_times_the_service_against_the_same_heap() {
    let daemon = Daemon::start(&host_board());
    let mut args = ALLOC_64.to_vec();
    args[0] = "bench";
    args.extend(["--iterations", "30"]);
    let out = ok(&daemon.client(&args));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("bench: RGBA_8888 64x64 layers 1"), "{out}");
    assert!(lines[0].ends_with("16384 bytes per buffer, 30 calls per side"), "{out}");
    assert!(lines[1].starts_with("service allocate2 (unix:") && lines[1].contains("median"));
    // The host board's heap is memfd, or udmabuf where /dev/udmabuf exists.
    assert!(
        lines[2].starts_with("baseline memfd (direct") || lines[2].starts_with("baseline udmabuf"),
        "{out}"
    );
    let ratio: f64 = lines[3]
        .strip_prefix("ratio service/baseline (median): ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no ratio in {out}"));
    assert!(ratio > 0.0, "{out}");

    // The service keeps nothing from the benchmark's calls.
    assert!(daemon.buffer_fds().is_empty(), "{:?}", daemon.buffer_fds());

    let mut bad = ALLOC_64.to_vec();
    bad[0] = "bench";
    bad.extend(["--baseline", "dma-heap:no-such-heap"]);
    let refused = daemon.client(&bad);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("opening the baseline heap dma-heap:no-such-heap"));
}

#[test]
fn is_supported_info_and_dump_answer() {
    let daemon = Daemon::start(&host_board());
    let mut args = ALLOC_64.to_vec();
    args[0] = "is-supported";
    assert_eq!(ok(&daemon.client(&args)), "true\n");

    let info = ok(&daemon.client(&["info"]));
    assert!(info.contains("interface version: 2\n"), "{info}");
    assert!(info.contains("interface hash: 9499fec09c544e9de5be3c87125721600f8ade66\n"), "{info}");
    assert!(info.contains("mapper suffix: host\n"), "{info}");

    ok(&daemon.client(&ALLOC_64));
    let dump = ok(&daemon.client(&["dump"]));
    assert!(dump.starts_with("board host\n"), "{dump}");
    assert!(dump.contains("memfd"), "{dump}");
    assert!(!dump.contains("0x7f"), "no addresses in a dump: {dump}");
}

#[test]
fn sigterm_stops_cleanly_and_prints_statistics() {
    let daemon = Daemon::start(&host_board());
    ok(&daemon.client(&ALLOC_64));
    let socket = daemon.socket.clone();
    let (status, stderr) = daemon.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("gralloc-allocator: stopped on SIGTERM; per-heap statistics:"),
        "{stderr}"
    );
    assert!(stderr.contains("memfd"), "{stderr}");
    assert!(!socket.with_extension("sock.dump").exists(), "dump socket removed");
}

#[test]
fn sigint_also_stops_cleanly() {
    let daemon = Daemon::start(&host_board());
    let (status, stderr) = daemon.stop_with(Signal::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped on SIGINT"), "{stderr}");
}

#[test]
fn the_daemon_keeps_no_fd_after_requests() {
    let daemon = Daemon::start(&host_board());
    // One request first, so lazily created state (thread-locals, the udmabuf device) is in
    // the baseline.
    ok(&daemon.client(&ALLOC_64));
    let settle = || {
        // Sessions close asynchronously after the client exits.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = daemon.fd_count();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = daemon.fd_count();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    };
    let baseline = settle();
    for _ in 0..5 {
        let mut args = ALLOC_64.to_vec();
        args.extend(["--count", "4"]);
        ok(&daemon.client(&args));
        let out = daemon.client(&[
            "alloc",
            "--width",
            "0",
            "--height",
            "1",
            "--format",
            "RGBA_8888",
            "--usage",
            "0",
        ]);
        assert_eq!(out.status.code(), Some(2));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemon.fd_count() != baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(daemon.fd_count(), baseline, "daemon fd count changed:\n{}", daemon.stderr_text());
    assert_eq!(daemon.buffer_fds(), Vec::<String>::new());
}

#[test]
fn an_invalid_board_exits_1_with_the_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("broken.toml");
    let good = std::fs::read_to_string(host_board()).unwrap();
    let broken = good.replace("heaps = [\"memfd\"]", "heaps = [\"cma\"]");
    assert_ne!(good, broken, "host.toml changed shape; update this test");
    std::fs::write(&board, &broken).unwrap();
    let line = broken.lines().position(|l| l.contains("\"cma\"")).unwrap() + 1;
    let socket = dir.path().join("never.sock");
    let out = Command::new(DAEMON)
        .arg("--board")
        .arg(&board)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{}:{line}", board.display())), "{stderr}");
    assert!(!stderr.contains(READY_PREFIX), "{stderr}");
    assert!(!socket.exists());

    let out = Command::new(DAEMON).args(["--socket"]).arg(&socket).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no --board");
    assert!(text(&out.stderr).contains("--board"), "{}", text(&out.stderr));

    let out = Command::new(DAEMON).arg("--threads").arg("0").output().unwrap();
    assert_eq!(out.status.code(), Some(64), "usage error");
}

#[test]
fn board_check_and_explain() {
    let board = host_board();
    let board = board.to_str().unwrap();
    let out = ok(&gralloc_str(&["board", "check", board]));
    assert!(out.contains("board \"host\""), "{out}");
    assert!(out.ends_with("ok\n"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "schema = 1\n[board]\nname = \"x\"\nbogus = 3\n").unwrap();
    let out = gralloc_str(&["board", "check", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("{}:", broken.display())), "{}", text(&out.stderr));

    let out = ok(&gralloc_str(&[
        "board",
        "explain",
        board,
        "--usage",
        "PROTECTED,GPU_TEXTURE",
        "--format",
        "RGBA_8888",
        "--size",
        "64x64",
    ]));
    assert!(out.contains("refused"), "{out}");
    let out = ok(&gralloc_str(&[
        "board",
        "explain",
        board,
        "--usage",
        "GPU_TEXTURE",
        "--format",
        "RGBA_8888",
        "--size",
        "64x64",
    ]));
    assert!(out.contains("skip"), "earlier rule explained: {out}");
    assert!(out.contains("memfd"), "{out}");

    let out = gralloc_str(&[
        "board",
        "explain",
        board,
        "--usage",
        "NOPE",
        "--format",
        "RGBA_8888",
        "--size",
        "1x1",
    ]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn the_uid_allow_list_refuses_other_callers() {
    let own = nix::unistd::Uid::effective().as_raw();
    let dir = tempfile::tempdir().unwrap();
    let host = std::fs::read_to_string(host_board()).unwrap();
    assert!(host.contains("[limits]"), "host.toml has a [limits] table");

    let denied = dir.path().join("denied.toml");
    let other = own.wrapping_add(4242);
    std::fs::write(
        &denied,
        host.replace("[limits]", &format!("[limits]\nallowed_uids = [{other}]")),
    )
    .unwrap();
    let daemon = Daemon::start(&denied);
    let out = daemon.client(&ALLOC_64);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("gralloc: UNSUPPORTED: "), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&own.to_string()), "{}", text(&out.stderr));
    let mut args = ALLOC_64.to_vec();
    args[0] = "is-supported";
    assert_eq!(ok(&daemon.client(&args)), "false\n");
    assert!(ok(&daemon.client(&["info"])).contains("mapper suffix: host"));
    drop(daemon);

    let allowed = dir.path().join("allowed.toml");
    std::fs::write(
        &allowed,
        host.replace("[limits]", &format!("[limits]\nallowed_uids = [{own}]")),
    )
    .unwrap();
    let daemon = Daemon::start(&allowed);
    ok(&daemon.client(&ALLOC_64));
    assert_eq!(ok(&daemon.client(&args)), "true\n");
}

#[test]
fn hold_keeps_mapped_buffers_and_checks_the_pattern() {
    let daemon = Daemon::start(&host_board());
    let mut args = ALLOC_64.to_vec();
    args.extend(["--count", "2", "--hold", "1"]);
    let out = daemon.client(&args);
    ok(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("holding 2 buffers (2 mapped) for 1 s"), "{stderr}");
    assert!(stderr.contains("pattern intact in 2 mapped buffers"), "{stderr}");
}

#[test]
fn a_missing_service_is_an_operational_error() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix:{}", dir.path().join("nobody.sock").display());
    let out = gralloc_str(&["--connect", &endpoint, "info"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("gralloc: cannot connect"), "{}", text(&out.stderr));
}
