//! `osa token --scope ...` mints a dev token with exactly the scopes asked for,
//! signed by the data dir's key.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use osa_net::jwt::JwtVerifier;
use serde_json::Value;

/// The issuer and audience `osa token` signs for (infra/local/src/local.rs).
const DEV_ISSUER: &str = "osa-local";
const DEV_AUDIENCE: &str = "osa-api";

struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn data_dir() -> DataDir {
    DataDir(std::env::temp_dir().join(format!(
        "osa-token-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    )))
}

fn osa_token(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osa"))
        .args(["token", "--data-dir"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("osa token runs")
}

/// The token `osa token` prints, verified with the data dir's public key; its
/// subject and its raw `scope` claim.
fn mint(dir: &Path, extra: &[&str]) -> (String, String) {
    let out = osa_token(dir, extra);
    assert!(
        out.status.success(),
        "osa token {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let public = std::fs::read_to_string(dir.join("dev-jwt-public.pem")).expect("dev public key");
    let verifier = JwtVerifier::from_pems(&[public], DEV_ISSUER, DEV_AUDIENCE).expect("verifier");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let caller = runtime
        .block_on(verifier.verify(&token))
        .expect("the token verifies");
    let payload = token.split('.').nth(1).expect("a JWT payload");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    let scope = claims["scope"].as_str().expect("a scope claim").to_owned();
    let from_verifier: HashSet<&str> = caller.scopes.iter().map(String::as_str).collect();
    assert_eq!(
        from_verifier,
        scope.split_whitespace().collect::<HashSet<_>>()
    );
    (caller.subject, scope)
}

#[test]
fn osa_token_grants_exactly_the_scopes_asked_for() {
    let dir = data_dir();
    let cases: [(&[&str], &str); 7] = [
        (&[], "osa:intake osa:read osa:admin osa:metrics"),
        (&["--scope", "osa:read"], "osa:read"),
        (&["--scope", "osa:metrics"], "osa:metrics"),
        (&["--scope", "osa:admin,osa:intake"], "osa:admin osa:intake"),
        (&["--scope", " osa:read , osa:read"], "osa:read"),
        (
            &["--scope", "osa:intake", "--scope", "osa:read"],
            "osa:intake osa:read",
        ),
        (&["--scope", ""], ""),
    ];
    for (args, expected) in cases {
        let (subject, scope) = mint(&dir.0, args);
        assert_eq!(scope, expected, "osa token {args:?}");
        assert_eq!(subject, "local-developer");
    }
    let (subject, _) = mint(&dir.0, &["--subject", "dashboard", "--scope", "osa:read"]);
    assert_eq!(subject, "dashboard");
}

#[test]
fn osa_token_refuses_an_unknown_scope() {
    let dir = data_dir();
    for scope in ["osa:reed", "osa:read,admin", "*"] {
        let out = osa_token(&dir.0, &["--scope", scope]);
        assert!(!out.status.success(), "--scope {scope} was accepted");
        assert!(out.stdout.is_empty(), "--scope {scope} printed a token");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unknown scope"), "{stderr}");
    }
}

#[test]
fn a_reader_that_went_away_ends_the_output_quietly() {
    let dir = data_dir();
    // A pipe whose reading end is already closed: the first write fails (EPIPE).
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_osa"))
        .args(["token", "--data-dir"])
        .arg(&dir.0)
        .stdout(writer)
        .output()
        .expect("osa token runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
