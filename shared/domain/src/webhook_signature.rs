//! A webhook's signature in whichever scheme it used and the deployment
//! accepts (`SignatureConfig::schemes`): `X-OSA-Signature` or Standard Webhooks.

use super::signature::{SignatureConfig, SignatureError, verify};
use super::standard_webhooks::{self, Signed};

/// A webhook's signature headers, as sent, in whichever schemes it used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signatures<'a> {
    pub osa: Option<&'a str>,
    pub standard: Option<Signed<'a>>,
}

impl<'a> Signatures<'a> {
    /// Only `X-OSA-Signature` (or nothing).
    pub fn osa(header: Option<&'a str>) -> Self {
        Signatures {
            osa: header,
            standard: None,
        }
    }
}

/// Verifies whichever accepted scheme the request used (Standard Webhooks
/// when it sent those headers and they are accepted, else `X-OSA-Signature`).
/// Answers the Standard Webhooks message id, a de-duplication key, when that
/// scheme verified.
pub fn verify_any<'a>(
    signatures: &Signatures<'a>,
    body: &[u8],
    now_ms: i64,
    config: &SignatureConfig,
) -> Result<Option<&'a str>, SignatureError> {
    match signatures.standard {
        Some(standard) if config.schemes.standard => {
            standard_webhooks::verify(&standard, body, now_ms, config)?;
            Ok(Some(standard.id))
        }
        _ if config.schemes.osa => verify(signatures.osa, body, now_ms, config).map(|()| None),
        _ => Err(SignatureError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::signature::{Schemes, sign};

    const NOW_MS: i64 = 1_764_000_000_000;
    const BODY: &[u8] = br#"{"workflow_id":"wf-1"}"#;

    fn config(schemes: &str) -> SignatureConfig {
        let mut config = SignatureConfig::new(vec![Secret::new("s3cret")]);
        config.schemes = schemes.parse().expect("schemes");
        config
    }

    #[test]
    fn each_scheme_counts_only_where_it_is_accepted() {
        let osa = sign(&[Secret::new("s3cret")], NOW_MS, BODY);
        let standard =
            standard_webhooks::sign(&[Secret::new("s3cret")], "msg_1", NOW_MS / 1000, BODY);
        let timestamp = (NOW_MS / 1000).to_string();
        let signed = Signed {
            id: "msg_1",
            timestamp: &timestamp,
            signature: &standard,
        };
        let only_standard = Signatures {
            osa: None,
            standard: Some(signed),
        };
        let only_osa = Signatures::osa(Some(&osa));

        assert_eq!(
            verify_any(&only_osa, BODY, NOW_MS, &config("osa")),
            Ok(None)
        );
        assert_eq!(
            verify_any(&only_standard, BODY, NOW_MS, &config("osa")),
            Err(SignatureError::Missing),
            "not accepted by default"
        );
        let both = config("osa,standard");
        assert_eq!(
            verify_any(&only_standard, BODY, NOW_MS, &both),
            Ok(Some("msg_1"))
        );
        assert_eq!(verify_any(&only_osa, BODY, NOW_MS, &both), Ok(None));
        assert_eq!(
            verify_any(&only_osa, BODY, NOW_MS, &config("standard")),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_any(&only_standard, b"{}", NOW_MS, &both),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn schemes_are_a_list_of_known_names() {
        assert_eq!(
            "standard, osa".parse::<Schemes>(),
            Ok(Schemes {
                osa: true,
                standard: true
            })
        );
        assert!("".parse::<Schemes>().is_err());
        assert!("osa,hmac".parse::<Schemes>().is_err());
    }
}
