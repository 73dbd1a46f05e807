//! Test support for logins with the real `adb` client: a fake phone and an isolated adb server.

pub mod adb_client;
pub mod fake_adbd;

use std::path::Path;
use std::time::Duration;

use adb_client::{AdbServer, CommandOutput};
use fake_adbd::{AuthEvent, FakeAdbd};

/// How long a connected device may take to settle as `device` or `unauthorized`.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// What one login attempt showed, from both ends.
#[derive(Debug)]
pub struct LoginAttempt {
    /// The serial of the fake phone, `127.0.0.1:PORT`.
    pub serial: String,
    /// How many keys of the adb_keys text the phone trusted.
    pub trusted_keys: usize,
    /// The output of `adb connect`.
    pub connect: CommandOutput,
    /// The state `adb devices` settled on: `device` or `unauthorized`.
    pub state: String,
    /// The output of `adb get-state` once settled.
    pub get_state: CommandOutput,
    /// The output of `adb shell echo hi` once logged in (the phone closes every service).
    pub shell: Option<CommandOutput>,
    /// What the phone saw.
    pub events: Vec<AuthEvent>,
    /// The adb server's log, for failure messages.
    pub server_log: String,
}

impl LoginAttempt {
    /// Everything the attempt showed, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "login to '{}' (trusting {} keys)\nadb connect: {:?}\nstate: '{}'\nget-state: {:?}\n\
             shell: {:?}\nphone saw: {:#?}\nadb server log:\n{}",
            self.serial,
            self.trusted_keys,
            self.connect,
            self.state,
            self.get_state,
            self.shell,
            self.events,
            self.server_log
        )
    }

    /// Whether the phone verified a signature from the host.
    pub fn signature_accepted(&self) -> bool {
        self.events
            .iter()
            .any(|event| matches!(event, AuthEvent::SignatureAccepted { .. }))
    }

    /// Whether the host, its keys refused, offered its public key.
    pub fn public_key_offered(&self) -> bool {
        self.events
            .iter()
            .any(|event| matches!(event, AuthEvent::PublicKeyOffered { .. }))
    }
}

/// Starts a fake phone that trusts `adb_keys`, connects to it with the real `adb` client
/// holding `private_key` (through `ADB_VENDOR_KEYS`), and reports what happened. The server is
/// killed before the phone stops, also when this panics.
pub fn attempt_login(adb_keys: &str, private_key: &Path) -> LoginAttempt {
    let phone = FakeAdbd::start(adb_keys).expect("starts the fake phone");
    let serial = phone.serial();
    let mut adb = AdbServer::start(private_key);

    let connect = adb.connect(&serial);
    let state = adb.wait_for_settled_state(&serial, SETTLE_TIMEOUT);
    let get_state = adb.run(&["-s", &serial, "get-state"]);
    let shell = (state == "device").then(|| adb.run(&["-s", &serial, "shell", "echo", "hi"]));
    let server_log = adb.log();
    drop(adb);

    LoginAttempt {
        serial,
        trusted_keys: phone.trusted_key_count(),
        connect,
        state,
        get_state,
        shell,
        events: phone.events(),
        server_log,
    }
}

/// Asserts that the login succeeded, from the client's and from the phone's side.
pub fn assert_logged_in(attempt: &LoginAttempt) {
    assert_eq!(
        attempt.connect.stdout.trim_end(),
        format!("connected to {}", attempt.serial),
        "{}",
        attempt.describe()
    );
    assert_eq!(attempt.state, "device", "{}", attempt.describe());
    assert_eq!(
        attempt.get_state.stdout.trim_end(),
        "device",
        "{}",
        attempt.describe()
    );
    assert!(attempt.signature_accepted(), "{}", attempt.describe());

    let shell = attempt
        .shell
        .as_ref()
        .expect("a shell was tried once logged in");
    assert!(!shell.success(), "{}", attempt.describe());
    assert!(
        attempt.events.iter().any(|event| matches!(
            event,
            AuthEvent::OpenRefused { service } if service.ends_with("echo hi")
        )),
        "{}",
        attempt.describe()
    );
}

/// Asserts that the phone refused the login and the client shows it as `unauthorized`.
pub fn assert_refused(attempt: &LoginAttempt) {
    assert_eq!(
        attempt.connect.stdout.trim_end(),
        format!("failed to authenticate to {}", attempt.serial),
        "{}",
        attempt.describe()
    );
    assert_eq!(attempt.state, "unauthorized", "{}", attempt.describe());
    assert!(!attempt.get_state.success(), "{}", attempt.describe());
    assert!(
        attempt
            .get_state
            .stderr
            .contains("error: device unauthorized."),
        "{}",
        attempt.describe()
    );
    assert!(!attempt.signature_accepted(), "{}", attempt.describe());
    assert!(attempt.public_key_offered(), "{}", attempt.describe());
}
