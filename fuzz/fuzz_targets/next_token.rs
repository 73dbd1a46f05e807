//! Fuzzes the NextToken decoder through DescribeKeyPairs (the decoder is private to the
//! service): no panic, and a token that was not issued is refused as InvalidParameter.NextToken.
#![no_main]

use std::sync::OnceLock;

use adbkeys::error::ErrorCode;
use adbkeys::service::{DescribeKeyPairsRequest, KeyPairService};
use adbkeys::store::Store;
use libfuzzer_sys::fuzz_target;

/// A service over a store of its own holding no key pairs, kept for the whole run.
fn service() -> &'static KeyPairService {
    static SERVICE: OnceLock<(tempfile_dir::Dir, KeyPairService)> = OnceLock::new();
    let (_, service) = SERVICE.get_or_init(|| {
        let dir = tempfile_dir::Dir::new();
        let store = Store::new(dir.0.join("store")).expect("a store");
        (dir, KeyPairService::new(store))
    });
    service
}

/// A directory under the system's temp dir, removed when the run ends normally.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("adbkeys-fuzz-{}", std::process::id()));
            std::fs::create_dir_all(&path).expect("a temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fuzz_target!(|token: &str| {
    let request = DescribeKeyPairsRequest {
        tenant: "default".to_string(),
        next_token: Some(token.to_string()),
        ..DescribeKeyPairsRequest::default()
    };
    match service().describe_key_pairs(&request) {
        Ok(page) => assert!(token.is_empty() && page.data.is_empty(), "accepted '{token}'"),
        Err(error) => {
            assert_eq!(error.code, ErrorCode::InvalidNextToken, "{error}");
            assert!(!error.message.is_empty());
        }
    }
});
