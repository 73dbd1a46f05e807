//! A fake phone for tests: the device side of ADB over TCP on 127.0.0.1, up to authentication.
//!
//! It speaks the part of the protocol that ../shared/docs/adb.md (Part 2) describes, as checked
//! against adb 29: the 24-byte header, the host's CNXN, AUTH TOKEN with 20 random bytes,
//! verification of the host's AUTH SIGNATURE against the keys of an adb_keys text, and CNXN with
//! a device banner once a signature verifies. A host whose keys are all refused offers its public
//! key with AUTH RSAPUBLICKEY; the fake device records it and stays silent, as a phone does until
//! someone taps "Allow", so the host shows the device as `unauthorized`.
//!
//! Two things would abort the real adb server and are therefore never done: a token of any length
//! but 20 bytes, and an OPEN sent by the device. An OPEN from the host is answered with CLSE.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use adbkeys::keys::AdbPublicKey;
use base64::Engine as _;
use rsa::Pkcs1v15Sign;

/// `CNXN(version, maxdata, banner)`.
pub const A_CNXN: u32 = 0x4E58_4E43;
/// `AUTH(type, 0, data)`.
pub const A_AUTH: u32 = 0x4854_5541;
/// `OPEN(local-id, 0, service)`.
pub const A_OPEN: u32 = 0x4E45_504F;
/// `CLSE(local-id, remote-id, "")`.
pub const A_CLSE: u32 = 0x4553_4C43;

/// AUTH type sent by the device: a token to sign.
pub const AUTH_TOKEN: u32 = 1;
/// AUTH type sent by the host: a signature over the last token.
pub const AUTH_SIGNATURE: u32 = 2;
/// AUTH type sent by the host once its keys are exhausted: its public key, NUL-terminated.
pub const AUTH_RSAPUBLICKEY: u32 = 3;

/// The protocol version that lets both sides leave `data_check` at 0.
const A_VERSION: u32 = 0x0100_0001;
/// The largest payload the fake device advertises and accepts (1 MiB, as adb 29).
const MAX_PAYLOAD: u32 = 1024 * 1024;
/// adbd's `TOKEN_SIZE`; adb 29's server aborts on any other token length.
const TOKEN_LEN: usize = 20;

/// The DigestInfo prefix of SHA-1 (RFC 8017, section 9.2, note 1). ADB signs the token as if it
/// were a SHA-1 digest, so the prefix is used with the raw token instead of a hash of it.
const SHA1_DIGEST_INFO_PREFIX: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14,
];

/// The banner of the device's CNXN; `adb devices -l` shows its product, model and device.
pub const DEVICE_BANNER: &str = "device::ro.product.name=fakeprod;ro.product.model=FakeModel;\
                                 ro.product.device=fakedev;features=shell_v2,cmd";

/// Emulator ports that the adb server probes on its own; the fake device never listens there.
const EMULATOR_PORTS: std::ops::RangeInclusive<u16> = 5554..=5585;

/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// The trusted keys of a fake phone, parsed as adbd parses an adb_keys file.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<(AdbPublicKey, rsa::PublicKey)>,
    skipped_lines: usize,
}

impl TrustedKeys {
    /// Reads an adb_keys text: one key per line, the base64 before the first space or tab, the
    /// rest a comment. Like adbd, a line that is not a valid key is skipped (and counted), so a
    /// test can tell an export that holds no key from one that holds the wrong key.
    pub fn parse(adb_keys: &str) -> Self {
        let mut keys = Vec::new();
        let mut skipped_lines = 0;

        for line in adb_keys.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }

            let base64_part = line.split([' ', '\t']).next().unwrap_or_default();
            let key = base64::engine::general_purpose::STANDARD
                .decode(base64_part)
                .ok()
                .and_then(|blob| AdbPublicKey::from_blob(&blob).ok());
            match key {
                Some(key) => {
                    let rsa_key = key.to_rsa();
                    keys.push((key, rsa_key));
                }
                None => skipped_lines += 1,
            }
        }

        Self {
            keys,
            skipped_lines,
        }
    }

    /// The number of keys the device trusts.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Lines that held no valid key.
    pub fn skipped_lines(&self) -> usize {
        self.skipped_lines
    }

    /// The index (in file order) of the first key under which `signature` is a valid ADB AUTH
    /// signature of `token`: RSASSA-PKCS1-v1_5 with the SHA-1 DigestInfo over the raw token.
    pub fn verify(&self, token: &[u8], signature: &[u8]) -> Option<usize> {
        self.keys.iter().position(|(_, rsa_key)| {
            let scheme = Pkcs1v15Sign {
                hash_len: Some(TOKEN_LEN),
                prefix: SHA1_DIGEST_INFO_PREFIX.into(),
            };
            rsa_key.verify(scheme, token, signature).is_ok()
        })
    }
}

/// What the fake device saw on its connections, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// The host's CNXN with its banner.
    HostConnected { banner: String },
    /// A signature that verified under the trusted key at this index; CNXN followed.
    SignatureAccepted { key_index: usize },
    /// A signature that matched no trusted key; a fresh token followed.
    SignatureRefused,
    /// The host's public key line (without the NUL), offered after all its keys were refused.
    PublicKeyOffered { line: String },
    /// A service the host tried to open; it was closed at once.
    OpenRefused { service: String },
    /// A message that broke the protocol (bad magic, oversized payload); the connection closed.
    ProtocolError { detail: String },
}

/// A running fake phone. It listens until dropped; dropping it closes every connection and
/// joins every thread it started.
///
/// Disconnect the adb server from it (or kill the server) before dropping it: the server keeps
/// reconnecting to a device that went away on its own.
pub struct FakeAdbd {
    port: u16,
    stop: Arc<AtomicBool>,
    events: Arc<Mutex<Vec<AuthEvent>>>,
    acceptor: Option<JoinHandle<()>>,
    trusted_key_count: usize,
}

impl FakeAdbd {
    /// Starts a fake phone on a free port of 127.0.0.1 (never an emulator port) that trusts
    /// the keys of `adb_keys` (the text of an adb_keys file).
    pub fn start(adb_keys: &str) -> io::Result<Self> {
        let trusted = Arc::new(TrustedKeys::parse(adb_keys));
        let trusted_key_count = trusted.len();
        let listener = bind_outside_emulator_ports()?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;

        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let stop = Arc::clone(&stop);
            let events = Arc::clone(&events);
            thread::Builder::new()
                .name(format!("fake-adbd-{port}"))
                .spawn(move || accept_loop(&listener, &trusted, &stop, &events))?
        };

        Ok(Self {
            port,
            stop,
            events,
            acceptor: Some(acceptor),
            trusted_key_count,
        })
    }

    /// The serial adb gives the device: `127.0.0.1:PORT`.
    pub fn serial(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many keys of the adb_keys text the device trusts.
    pub fn trusted_key_count(&self) -> usize {
        self.trusted_key_count
    }

    /// A copy of what the device has seen so far.
    pub fn events(&self) -> Vec<AuthEvent> {
        lock(&self.events).clone()
    }
}

impl Drop for FakeAdbd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn bind_outside_emulator_ports() -> io::Result<TcpListener> {
    for _ in 0..16 {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        if !EMULATOR_PORTS.contains(&listener.local_addr()?.port()) {
            return Ok(listener);
        }
    }
    Err(io::Error::other(
        "no free port outside 5554-5585 after 16 tries",
    ))
}

/// Accepts connections until the stop flag is set, then shuts every connection down and joins
/// its thread.
fn accept_loop(
    listener: &TcpListener,
    trusted: &Arc<TrustedKeys>,
    stop: &Arc<AtomicBool>,
    events: &Arc<Mutex<Vec<AuthEvent>>>,
) {
    let mut connections: Vec<(TcpStream, JoinHandle<()>)> = Vec::new();

    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let spawned = stream.set_nonblocking(false).and_then(|()| {
                    let handle = stream.try_clone()?;
                    let trusted = Arc::clone(trusted);
                    let events = Arc::clone(events);
                    let worker = thread::Builder::new()
                        .name("fake-adbd-conn".to_owned())
                        .spawn(move || serve_connection(stream, &trusted, &events))?;
                    Ok((handle, worker))
                });
                match spawned {
                    Ok(connection) => connections.push(connection),
                    Err(error) => record(events, protocol_error(&error)),
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(error) => {
                record(events, protocol_error(&error));
                thread::sleep(ACCEPT_POLL);
            }
        }
    }

    for (stream, worker) in connections {
        let _ = stream.shutdown(Shutdown::Both);
        let _ = worker.join();
    }
}

fn record(events: &Mutex<Vec<AuthEvent>>, event: AuthEvent) {
    lock(events).push(event);
}

fn protocol_error(error: &io::Error) -> AuthEvent {
    AuthEvent::ProtocolError {
        detail: error.to_string(),
    }
}

/// One ADB message: the header's fields and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub command: u32,
    pub arg0: u32,
    pub arg1: u32,
    pub payload: Vec<u8>,
}

impl Message {
    /// The 24-byte header (six little-endian u32) followed by the payload. `data_check` is the
    /// byte sum, which every adb version accepts.
    pub fn encode(&self) -> Vec<u8> {
        let data_check = self
            .payload
            .iter()
            .fold(0u32, |sum, &byte| sum.wrapping_add(u32::from(byte)));
        let length = u32::try_from(self.payload.len()).expect("payloads stay below 1 MiB");

        let mut bytes = Vec::with_capacity(24 + self.payload.len());
        for field in [
            self.command,
            self.arg0,
            self.arg1,
            length,
            data_check,
            self.command ^ 0xFFFF_FFFF,
        ] {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes.extend_from_slice(&self.payload);
        bytes
    }

    /// Reads one message; `Ok(None)` when the peer closed the connection between messages.
    /// `data_check` is not checked, as adb 29 does not check it either.
    pub fn read_from(stream: &mut impl Read) -> io::Result<Option<Self>> {
        let mut header = [0u8; 24];
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error),
        }

        let field = |index: usize| {
            let bytes: [u8; 4] = header[index * 4..index * 4 + 4]
                .try_into()
                .expect("a header field is 4 bytes");
            u32::from_le_bytes(bytes)
        };
        let (command, arg0, arg1, length, magic) =
            (field(0), field(1), field(2), field(3), field(5));
        if magic != command ^ 0xFFFF_FFFF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("magic {magic:#010x} does not match command {command:#010x}"),
            ));
        }
        if length > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("payload of {length} bytes is over the 1 MiB limit"),
            ));
        }

        let mut payload = vec![0u8; length as usize];
        stream.read_exact(&mut payload)?;
        Ok(Some(Self {
            command,
            arg0,
            arg1,
            payload,
        }))
    }
}

/// Where a connection is in the handshake.
enum State {
    /// Nothing may be sent before the host's CNXN.
    AwaitingHostCnxn,
    /// A token is out; the host answers with a signature or its public key.
    Authenticating { token: [u8; TOKEN_LEN] },
    /// A signature verified and the device's CNXN went out.
    Online,
}

fn serve_connection(mut stream: TcpStream, trusted: &TrustedKeys, events: &Mutex<Vec<AuthEvent>>) {
    if let Err(error) = run_handshake(&mut stream, trusted, events) {
        // A reset or a shutdown by the accept loop only ends the connection; a broken message
        // is a fault worth reporting.
        if error.kind() == io::ErrorKind::InvalidData {
            record(events, protocol_error(&error));
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn run_handshake(
    stream: &mut TcpStream,
    trusted: &TrustedKeys,
    events: &Mutex<Vec<AuthEvent>>,
) -> io::Result<()> {
    let mut state = State::AwaitingHostCnxn;

    while let Some(message) = Message::read_from(stream)? {
        state = match (state, message.command, message.arg0) {
            (State::AwaitingHostCnxn, A_CNXN, _) => {
                let banner = String::from_utf8_lossy(&message.payload).into_owned();
                record(events, AuthEvent::HostConnected { banner });
                State::Authenticating {
                    token: send_token(stream)?,
                }
            }
            (State::Authenticating { token }, A_AUTH, AUTH_SIGNATURE) => {
                match trusted.verify(&token, &message.payload) {
                    Some(key_index) => {
                        record(events, AuthEvent::SignatureAccepted { key_index });
                        send_device_cnxn(stream)?;
                        State::Online
                    }
                    None => {
                        record(events, AuthEvent::SignatureRefused);
                        State::Authenticating {
                            token: send_token(stream)?,
                        }
                    }
                }
            }
            (State::Authenticating { token }, A_AUTH, AUTH_RSAPUBLICKEY) => {
                let text = message
                    .payload
                    .strip_suffix(&[0])
                    .unwrap_or(&message.payload);
                let line = String::from_utf8_lossy(text).into_owned();
                record(events, AuthEvent::PublicKeyOffered { line });
                State::Authenticating { token }
            }
            (state, A_OPEN, local_id) => {
                let service = message
                    .payload
                    .strip_suffix(&[0])
                    .unwrap_or(&message.payload);
                let service = String::from_utf8_lossy(service).into_owned();
                record(events, AuthEvent::OpenRefused { service });
                write_message(stream, A_CLSE, 0, local_id, Vec::new())?;
                state
            }
            (state, _, _) => state,
        };
    }
    Ok(())
}

/// Sends AUTH TOKEN with 20 fresh random bytes and returns them.
fn send_token(stream: &mut TcpStream) -> io::Result<[u8; TOKEN_LEN]> {
    let mut token = [0u8; TOKEN_LEN];
    getrandom::fill(&mut token).map_err(io::Error::other)?;
    write_message(stream, A_AUTH, AUTH_TOKEN, 0, token.to_vec())?;
    Ok(token)
}

fn send_device_cnxn(stream: &mut TcpStream) -> io::Result<()> {
    let banner = DEVICE_BANNER.as_bytes().to_vec();
    write_message(stream, A_CNXN, A_VERSION, MAX_PAYLOAD, banner)
}

fn write_message(
    stream: &mut TcpStream,
    command: u32,
    arg0: u32,
    arg1: u32,
    payload: Vec<u8>,
) -> io::Result<()> {
    let message = Message {
        command,
        arg0,
        arg1,
        payload,
    };
    stream.write_all(&message.encode())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public key of appendix A of ../shared/docs/adb.md (a copy is in tests/support/data).
    const APPENDIX_A_PUBLIC_KEY: &str = include_str!("data/appendix_a_adbkey.pub");
    /// Its signature of the token 00 01 .. 13, made independently of this code.
    const APPENDIX_A_SIGNATURE_HEX: &str = include_str!("data/kat_sig_token00-13.hex");
    /// Another `adb keygen` key (../shared/cases/adbkey.pub).
    const OTHER_PUBLIC_KEY: &str = include_str!("data/cases_adbkey.pub");

    fn counting_token() -> Vec<u8> {
        (0u8..20).collect()
    }

    fn kat_signature() -> Vec<u8> {
        let hex = APPENDIX_A_SIGNATURE_HEX.trim();
        (0..hex.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).expect("hex digits"))
            .collect()
    }

    #[test]
    fn accepts_the_known_answer_signature_of_appendix_a() {
        let trusted = TrustedKeys::parse(APPENDIX_A_PUBLIC_KEY);
        let signature = kat_signature();

        assert_eq!(trusted.len(), 1);
        assert_eq!(signature.len(), 256);
        assert_eq!(trusted.verify(&counting_token(), &signature), Some(0));
    }

    #[test]
    fn finds_the_signing_key_among_several_in_file_order() {
        let adb_keys = format!("{OTHER_PUBLIC_KEY}\n\n{APPENDIX_A_PUBLIC_KEY}\n");
        let trusted = TrustedKeys::parse(&adb_keys);

        assert_eq!(trusted.len(), 2);
        assert_eq!(trusted.verify(&counting_token(), &kat_signature()), Some(1));
    }

    #[test]
    fn refuses_the_signature_under_another_key() {
        let trusted = TrustedKeys::parse(OTHER_PUBLIC_KEY);

        assert_eq!(trusted.len(), 1);
        assert_eq!(trusted.verify(&counting_token(), &kat_signature()), None);
    }

    #[test]
    fn refuses_a_changed_token_or_signature() {
        let trusted = TrustedKeys::parse(APPENDIX_A_PUBLIC_KEY);
        let mut token = counting_token();
        token[19] ^= 1;
        let mut signature = kat_signature();
        signature[128] ^= 1;

        assert_eq!(trusted.verify(&token, &kat_signature()), None);
        assert_eq!(trusted.verify(&counting_token(), &signature), None);
        assert_eq!(
            trusted.verify(&counting_token(), &kat_signature()[..255]),
            None
        );
    }

    #[test]
    fn skips_lines_that_hold_no_key_as_adbd_does() {
        let adb_keys = format!("not-a-key user@host\r\n{APPENDIX_A_PUBLIC_KEY}\r\n\n");
        let trusted = TrustedKeys::parse(&adb_keys);

        assert_eq!(trusted.len(), 1);
        assert_eq!(trusted.skipped_lines(), 1);
    }

    #[test]
    fn frames_messages_with_the_inverted_command_as_magic() {
        let message = Message {
            command: A_AUTH,
            arg0: AUTH_TOKEN,
            arg1: 0,
            payload: counting_token(),
        };
        let bytes = message.encode();

        // Expected header worked out by hand: "AUTH", 1, 0, 20, sum(0..=19) = 190, !"AUTH".
        let expected_header: [u8; 24] = [
            0x41, 0x55, 0x54, 0x48, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 190, 0, 0, 0, 0xBE, 0xAA,
            0xAB, 0xB7,
        ];
        assert_eq!(&bytes[..24], &expected_header);
        assert_eq!(
            Message::read_from(&mut bytes.as_slice()).expect("reads"),
            Some(message)
        );
    }

    #[test]
    fn refuses_a_header_whose_magic_does_not_match() {
        let mut bytes = Message {
            command: A_CNXN,
            arg0: A_VERSION,
            arg1: MAX_PAYLOAD,
            payload: Vec::new(),
        }
        .encode();
        bytes[20] ^= 1;

        let error = Message::read_from(&mut bytes.as_slice()).expect_err("bad magic");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
