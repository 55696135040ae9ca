//! The JWT adapter: RS256 tokens against PEMs, a JWKS document, a JWKS file
//! rotated under it, and a JWKS URL fetched lazily, re-fetched by kid at most
//! once a minute, and unreachable without failing anything but its requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use osa_domain::access::{AccessError, scopes};
use osa_net::jwt::{DevKeys, JwtVerifier, KeySource, RefreshPolicy};
use osa_testkit::keys::{JwksFile, jwk, jwks, mint_kid, other_keys};
use osa_testkit::{AUDIENCE, ISSUER, ManualClock, dev_keys};

fn keys() -> &'static DevKeys {
    dev_keys()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn verifier() -> JwtVerifier {
    JwtVerifier::from_pems(&[keys().public_pem.clone()], ISSUER, AUDIENCE).unwrap()
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))
}

#[tokio::test]
async fn a_minted_token_verifies_with_its_scopes() {
    let t = keys()
        .mint(
            ISSUER,
            AUDIENCE,
            "dev",
            &[scopes::INTAKE, scopes::READ],
            now(),
            3600,
        )
        .unwrap();
    let caller = verifier().verify(&t).await.unwrap();
    assert_eq!(caller.subject, "dev");
    assert!(caller.require(scopes::INTAKE).is_ok());
    assert_eq!(
        caller.require(scopes::ADMIN),
        Err(AccessError::InsufficientScope(scopes::ADMIN))
    );
}

#[tokio::test]
async fn expiry_issuer_and_audience_are_enforced() {
    let v = verifier();
    let expired = keys()
        .mint(ISSUER, AUDIENCE, "dev", &[], now() - 7200, 3600)
        .unwrap();
    assert!(matches!(
        v.verify(&expired).await,
        Err(AccessError::Invalid(_))
    ));
    let wrong_iss = keys()
        .mint("someone-else", AUDIENCE, "dev", &[], now(), 3600)
        .unwrap();
    assert!(matches!(
        v.verify(&wrong_iss).await,
        Err(AccessError::Invalid(_))
    ));
    let wrong_aud = keys()
        .mint(ISSUER, "other-api", "dev", &[], now(), 3600)
        .unwrap();
    assert!(matches!(
        v.verify(&wrong_aud).await,
        Err(AccessError::Invalid(_))
    ));
    // The control: the same key, issuer and audience, in date.
    let good = keys()
        .mint(ISSUER, AUDIENCE, "dev", &[], now(), 3600)
        .unwrap();
    assert!(v.verify(&good).await.is_ok());
}

#[tokio::test]
async fn a_token_from_another_key_is_rejected() {
    let t = other_keys()
        .mint(ISSUER, AUDIENCE, "dev", &[], now(), 3600)
        .unwrap();
    assert!(matches!(
        verifier().verify(&t).await,
        Err(AccessError::Invalid(_))
    ));
}

#[tokio::test]
async fn an_unknown_kid_is_rejected() {
    let v = JwtVerifier::from_jwks(&jwks(&[jwk(keys(), "k1")]), ISSUER, AUDIENCE).unwrap();
    assert!(v.verify(&mint_kid(keys(), "k1", &[])).await.is_ok());
    // Signed by the right key, but naming a key the set does not hold.
    assert_eq!(
        v.verify(&mint_kid(keys(), "k9", &[])).await.unwrap_err(),
        AccessError::Invalid("unknown key id".into())
    );
    // A known kid with another key's signature.
    assert!(matches!(
        v.verify(&mint_kid(other_keys(), "k1", &[])).await,
        Err(AccessError::Invalid(_))
    ));
}

#[tokio::test]
async fn alg_none_and_hs256_confusion_are_rejected() {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let claims = format!(
        r#"{{"sub":"x","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"iat":0}}"#,
        now() + 3600
    );
    let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims));
    assert!(verifier().verify(&none).await.is_err());
    // HS256 signed with the public key's bytes as the HMAC secret, in both the
    // PEM and the JWKS set-ups.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
        &EncodingKey::from_secret(keys().public_pem.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        verifier().verify(&hs).await,
        Err(AccessError::Invalid(_))
    ));
    let set = jwks(&[jwk(keys(), "k1")]);
    let from_jwks = JwtVerifier::from_jwks(&set, ISSUER, AUDIENCE).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let hs_kid = jsonwebtoken::encode(
        &header,
        &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
        &EncodingKey::from_secret(set.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        from_jwks.verify(&hs_kid).await,
        Err(AccessError::Invalid(_))
    ));
}

#[tokio::test]
async fn jwks_keys_that_are_not_rs256_signing_keys_are_skipped() {
    let mut enc = jwk(other_keys(), "enc");
    enc["use"] = "enc".into();
    let mut es = jwk(other_keys(), "es");
    es["alg"] = "ES256".into();
    let oct = serde_json::json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0"});
    let only_unusable = jwks(&[enc.clone(), es.clone(), oct.clone()]);
    assert!(matches!(
        JwtVerifier::from_jwks(&only_unusable, ISSUER, AUDIENCE),
        Err(AccessError::Config(_))
    ));
    let mixed = jwks(&[enc, es, oct, jwk(keys(), "k1")]);
    let v = JwtVerifier::from_jwks(&mixed, ISSUER, AUDIENCE).unwrap();
    assert!(v.verify(&mint_kid(keys(), "k1", &[])).await.is_ok());
    for skipped in ["enc", "es", "hs"] {
        assert_eq!(
            v.verify(&mint_kid(keys(), skipped, &[])).await.unwrap_err(),
            AccessError::Invalid("unknown key id".into()),
            "{skipped}"
        );
    }
    assert!(matches!(
        JwtVerifier::from_jwks("{not json", ISSUER, AUDIENCE),
        Err(AccessError::Config(_))
    ));
}

#[tokio::test]
async fn a_rotated_jwks_file_is_picked_up_by_kid_without_a_new_verifier() {
    let file = JwksFile::new(&jwks(&[jwk(keys(), "k1")]));
    let clock = manual_clock();
    let v = JwtVerifier::from_jwks_file(&file.0, ISSUER, AUDIENCE)
        .unwrap()
        .with_clock(clock.clone());
    assert_eq!(v.source(), &KeySource::File(file.0.clone()));
    let old = mint_kid(keys(), "k1", &[scopes::READ]);
    let new = mint_kid(other_keys(), "k2", &[scopes::READ]);
    assert!(v.verify(&old).await.is_ok());
    assert!(v.verify(&new).await.is_err());

    // Rotation: k2 replaces k1 in the file.
    file.write(&jwks(&[jwk(other_keys(), "k2")]));
    // Within a minute of the last read, an unknown kid does not re-read.
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        v.verify(&new).await.unwrap_err(),
        AccessError::Invalid("unknown key id".into())
    );
    clock.advance(Duration::from_secs(31));
    // A minute on, the unknown kid re-reads the file.
    let caller = v.verify(&new).await.unwrap();
    assert!(caller.require(scopes::READ).is_ok());
    assert!(v.verify(&new).await.is_ok());
    // The retired key is gone with the re-read.
    assert!(v.verify(&old).await.is_err());
}

#[tokio::test]
async fn a_stale_cache_is_re_read_after_the_ttl_and_a_failed_read_keeps_the_keys() {
    let file = JwksFile::new(&jwks(&[jwk(keys(), "k1")]));
    let clock = manual_clock();
    let v = JwtVerifier::from_jwks_file(&file.0, ISSUER, AUDIENCE)
        .unwrap()
        .with_clock(clock.clone());
    // The same kid now names another key: the kid is known, so only the TTL
    // brings the new key in.
    file.write(&jwks(&[jwk(other_keys(), "k1")]));
    let reissued = mint_kid(other_keys(), "k1", &[]);
    clock.advance(Duration::from_secs(599));
    assert!(v.verify(&reissued).await.is_err());
    clock.advance(Duration::from_secs(1));
    assert!(v.verify(&reissued).await.is_ok());

    // A broken file after another TTL: the keys in hand stay.
    file.write("{\"keys\": [");
    clock.advance(Duration::from_secs(601));
    assert!(v.verify(&reissued).await.is_ok());
    std::fs::remove_file(&file.0).unwrap();
    clock.advance(Duration::from_secs(601));
    assert!(v.verify(&reissued).await.is_ok());
}

/// Serves a JWKS document on 127.0.0.1 and counts the fetches.
struct JwksServer {
    url: String,
    document: Arc<RwLock<String>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks_server(initial: String) -> JwksServer {
    let document = Arc::new(RwLock::new(initial));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (doc, count) = (document.clone(), fetches.clone());
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (doc, count) = (doc.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                doc.read().unwrap().clone()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    JwksServer {
        url: format!("http://{addr}/jwks.json"),
        document,
        fetches,
    }
}

#[tokio::test]
async fn a_jwks_url_is_refetched_for_a_new_kid_at_most_once_a_minute() {
    let server = jwks_server(jwks(&[jwk(keys(), "k1")])).await;
    let clock = manual_clock();
    let v = JwtVerifier::from_jwks_url(&server.url, ISSUER, AUDIENCE, RefreshPolicy::default())
        .unwrap()
        .with_clock(clock.clone());
    // Nothing is fetched until a token comes.
    assert_eq!(server.fetches.load(Ordering::SeqCst), 0);
    assert!(v.verify(&mint_kid(keys(), "k1", &[])).await.is_ok());

    // A flood of made-up kids costs at most one fetch a minute.
    clock.advance(Duration::from_secs(61));
    for i in 0..20 {
        let t = mint_kid(keys(), &format!("made-up-{i}"), &[]);
        assert!(v.verify(&t).await.is_err());
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2);

    // The issuer publishes k2 beside k1; a minute on, a k2 token verifies.
    *server.document.write().unwrap() = jwks(&[jwk(keys(), "k1"), jwk(other_keys(), "k2")]);
    let k2 = mint_kid(other_keys(), "k2", &[]);
    assert!(v.verify(&k2).await.is_err());
    clock.advance(Duration::from_secs(60));
    assert!(v.verify(&k2).await.is_ok());
    assert!(v.verify(&mint_kid(keys(), "k1", &[])).await.is_ok());
    assert_eq!(server.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unreachable_jwks_url_refuses_tokens_as_unavailable_until_it_answers() {
    // Nothing listens on the port once the listener is dropped.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/jwks.json");
    let clock = manual_clock();
    let v = JwtVerifier::from_jwks_url(&url, ISSUER, AUDIENCE, RefreshPolicy::default())
        .unwrap()
        .with_clock(clock.clone());
    let token = mint_kid(keys(), "k1", &[scopes::READ]);
    assert!(matches!(
        v.verify(&token).await,
        Err(AccessError::Unavailable(_))
    ));
    // A token that is not even a JWT is refused for what it is, without a fetch.
    assert!(matches!(
        v.verify("not.a.jwt").await,
        Err(AccessError::Invalid(_))
    ));
}

#[tokio::test]
async fn aud_may_be_an_array_and_iat_may_be_absent() {
    let key = EncodingKey::from_rsa_pem(keys().private_pem.as_bytes()).unwrap();
    let claims = serde_json::json!({
        "sub": "svc", "iss": ISSUER, "aud": ["another-api", AUDIENCE],
        "exp": now() + 600, "scope": "osa:read",
    });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    let caller = verifier().verify(&token).await.unwrap();
    assert_eq!(caller.subject, "svc");
    assert!(caller.require(scopes::READ).is_ok());
    // An array without OSA's audience is still refused.
    let claims = serde_json::json!({
        "sub": "svc", "iss": ISSUER, "aud": ["another-api"], "exp": now() + 600,
    });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    assert!(matches!(
        verifier().verify(&token).await,
        Err(AccessError::Invalid(_))
    ));
}
