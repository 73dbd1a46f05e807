//! The real `adb` client for tests, isolated: its own server port, HOME, log and keys.
//!
//! The server runs in the foreground (`adb -P PORT nodaemon server`) as a child of the test, so
//! it is known by its process id. Dropping an [`AdbServer`] disconnects every device it
//! connected, runs `adb -P PORT kill-server`, and kills the child by id if it is still there,
//! so no process outlives the test, also when the test panics.
//!
//! ../shared/docs/adb.md, sections 2.7 to 2.9, describe the client's output and the isolation
//! recipe used here.

use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long one `adb` command may take (`adb connect` itself waits up to 10 s).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to listen on its port.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many ports to try when the server cannot bind the one it was given.
const SERVER_START_ATTEMPTS: usize = 3;
/// How long the server may take to exit after `kill-server`.
const SERVER_EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between two polls of a process or of `adb devices`.
const POLL: Duration = Duration::from_millis(50);

/// Variables that would point the client at another server or device, or change its logging.
const INHERITED_ADB_VARIABLES: &[&str] = &[
    "ANDROID_ADB_SERVER_PORT",
    "ANDROID_ADB_SERVER_ADDRESS",
    "ADB_SERVER_SOCKET",
    "ANDROID_SERIAL",
    "ADB_TRACE",
    "ADB_LOCAL_TRANSPORT_MAX_PORT",
    "ADB_VENDOR_KEYS",
    "ANDROID_ADB_LOG_PATH",
    "ADB_MDNS_AUTO_CONNECT",
    "ADB_LIBUSB",
];

/// The path of the `adb` client; panics with the install command when it is missing, so that a
/// machine without adb fails these tests instead of skipping them.
pub fn require_adb() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("adb"))
            .find(|candidate| candidate.is_file())
    });
    found.expect("the 'adb' client is required for this test: install it (apt-get install -y adb)")
}

/// What a finished command printed and how it exited.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Runs a command with stdin from /dev/null, killing it (by its id) when it overruns `timeout`.
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> CommandOutput {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {description}: {error}"));

    // Read both pipes on threads, so that a chatty command cannot block on a full pipe.
    let stdout = read_on_thread(child.stdout.take());
    let stderr = read_on_thread(child.stderr.take());

    let status = match wait_with_deadline(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {timeout:?}");
        }
    };

    CommandOutput {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn read_on_thread(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for the child to exit; `None` if it is still running at the deadline.
fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// A free TCP port on 127.0.0.1, outside the emulator ports 5554-5585 that adb probes.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binds a port on 127.0.0.1");
        let port = listener
            .local_addr()
            .expect("a bound socket has an address")
            .port();
        if !(5554..=5585).contains(&port) {
            return port;
        }
    }
}

/// `adb keygen DIR/NAME`: a fresh ADB key pair made by the real client, as users make one.
/// Returns the private key's path; the public key is beside it with `.pub` appended.
pub fn adb_keygen(dir: &Path, name: &str) -> PathBuf {
    let private_key = dir.join(name);
    let mut command = Command::new(require_adb());
    command
        .arg("keygen")
        .arg(&private_key)
        .env("HOME", dir)
        .env("ANDROID_ADB_LOG_PATH", dir.join("adb-keygen.log"));
    for variable in INHERITED_ADB_VARIABLES
        .iter()
        .filter(|v| **v != "ANDROID_ADB_LOG_PATH")
    {
        command.env_remove(variable);
    }

    let output = run_with_timeout(command, COMMAND_TIMEOUT);
    assert!(output.success(), "adb keygen failed: {output:?}");
    assert!(
        private_key.is_file(),
        "adb keygen wrote no '{}'",
        private_key.display()
    );
    private_key
}

/// The path of the public key beside a private key, as `adb keygen` names it: `FILE.pub`.
pub fn public_key_path(private_key: &Path) -> PathBuf {
    let mut path = private_key.as_os_str().to_owned();
    path.push(".pub");
    PathBuf::from(path)
}

/// An adb server of its own, holding one private key given through `ADB_VENDOR_KEYS`.
///
/// Its `~/.android` is empty, so the server also makes a user key `adbkey` of its own at start;
/// a phone does not trust that one, so a login succeeds only through the given key.
pub struct AdbServer {
    adb: PathBuf,
    workdir: TempDir,
    port: u16,
    private_key: PathBuf,
    server: Option<Child>,
    connected: Vec<String>,
}

impl AdbServer {
    /// Starts `adb -P PORT nodaemon server` on a free port with `ADB_VENDOR_KEYS=private_key`
    /// and waits until it listens.
    pub fn start(private_key: &Path) -> Self {
        let adb = require_adb();
        let workdir = tempfile::tempdir().expect("creates a temporary directory");
        let mut server = Self {
            adb,
            workdir,
            port: 0,
            private_key: private_key.to_owned(),
            server: None,
            connected: Vec::new(),
        };

        // Another process may take the free port before the server binds it; the server then
        // exits at once, and a fresh port is tried.
        for _ in 0..SERVER_START_ATTEMPTS {
            server.port = free_port();
            server.spawn_server();
            if server.wait_until_listening() {
                return server;
            }
        }
        panic!(
            "the adb server did not start in {SERVER_START_ATTEMPTS} attempts; last log:\n{}",
            server.log()
        );
    }

    fn spawn_server(&mut self) {
        let log = File::create(self.log_path()).expect("creates the server log");
        let mut command = self.command();
        command
            .args(["nodaemon", "server"])
            .env("ADB_TRACE", "auth")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the adb server: {error}"));
        self.server = Some(child);
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.workdir.path().join("adb-server.log")
    }

    fn home(&self) -> PathBuf {
        self.workdir.path().join("home")
    }

    /// `adb -P PORT` with the isolated environment; add the arguments and run it.
    pub fn command(&self) -> Command {
        let home = self.home();
        std::fs::create_dir_all(&home).expect("creates the client's HOME");

        let mut command = Command::new(&self.adb);
        command.arg("-P").arg(self.port.to_string());
        for variable in INHERITED_ADB_VARIABLES {
            command.env_remove(variable);
        }
        command
            .env("HOME", &home)
            .env("TMPDIR", self.workdir.path())
            .env("ADB_MDNS", "0")
            .env("ADB_USB", "0")
            .env("ADB_EMU", "0")
            .env("ANDROID_ADB_LOG_PATH", self.log_path())
            .env("ADB_VENDOR_KEYS", &self.private_key);
        command
    }

    /// Runs `adb -P PORT ARGS...` against this server, which must still be running (a client
    /// that found no server would start a daemon of its own that the test could not end).
    pub fn run(&mut self, args: &[&str]) -> CommandOutput {
        self.assert_server_running();
        let mut command = self.command();
        command.args(args);
        run_with_timeout(command, COMMAND_TIMEOUT)
    }

    /// `adb connect SERIAL`; the device is disconnected again when the server is dropped.
    pub fn connect(&mut self, serial: &str) -> CommandOutput {
        self.connected.push(serial.to_owned());
        self.run(&["connect", serial])
    }

    /// The state `adb devices` gives the serial (`device`, `unauthorized`, ...), if listed.
    pub fn state_of(&mut self, serial: &str) -> Option<String> {
        let output = self.run(&["devices"]);
        assert!(output.success(), "adb devices failed: {output:?}");
        let prefix = format!("{serial}\t");
        output
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
    }

    /// Polls `adb devices` until the serial is `device` or `unauthorized` and returns that
    /// state; panics with the last state seen and the server log after `timeout`.
    pub fn wait_for_settled_state(&mut self, serial: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut last_seen = None;
        while Instant::now() < deadline {
            last_seen = self.state_of(serial);
            if let Some(state) = last_seen.as_deref() {
                if state == "device" || state == "unauthorized" {
                    return state.to_owned();
                }
            }
            thread::sleep(POLL);
        }
        panic!(
            "'{serial}' did not become 'device' or 'unauthorized' within {timeout:?} \
             (last seen: {last_seen:?}); server log:\n{}",
            self.log()
        );
    }

    fn assert_server_running(&mut self) {
        let server = self.server.as_mut().expect("the server was started");
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the adb server exited ({status}); its log:\n{}", self.log());
        }
    }

    /// Waits until the server listens on its port; `false` if it exited first.
    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        while Instant::now() < deadline {
            let server = self.server.as_mut().expect("the server was spawned");
            if let Ok(Some(_)) = server.try_wait() {
                self.server = None;
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            thread::sleep(POLL);
        }
        panic!(
            "the adb server did not listen on port {} within {SERVER_START_TIMEOUT:?}; log:\n{}",
            self.port,
            self.log()
        );
    }
}

impl Drop for AdbServer {
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };

        // Disconnect first: a server that loses a device keeps reconnecting to it.
        if matches!(server.try_wait(), Ok(None)) {
            for serial in std::mem::take(&mut self.connected) {
                let mut command = self.command();
                command.args(["disconnect", &serial]);
                let _ = run_quietly(command);
            }
            let mut command = self.command();
            command.arg("kill-server");
            let _ = run_quietly(command);
        }

        if wait_with_deadline(&mut server, SERVER_EXIT_TIMEOUT).is_none() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

/// Runs a clean-up command with a timeout, without panicking (it may run during a panic).
fn run_quietly(mut command: Command) -> Option<ExitStatus> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let status = wait_with_deadline(&mut child, COMMAND_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}
