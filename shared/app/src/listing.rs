//! What the listings take from a query string: how many (`?limit=`) and where
//! to go on (`?cursor=`), checked as the query is read.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::ports::{PagePosition, StoreError};
use osa_domain::audit::BadPageToken;

/// A `?limit=`: `DEFAULT` when absent, else 1 to `MAX`; anything else is refused
/// as the query is read (never clamped in silence: the answer would not be the
/// page asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit<const DEFAULT: usize, const MAX: usize>(usize);

impl<const DEFAULT: usize, const MAX: usize> Limit<DEFAULT, MAX> {
    pub fn get(self) -> usize {
        self.0
    }
}

impl<const DEFAULT: usize, const MAX: usize> Default for Limit<DEFAULT, MAX> {
    fn default() -> Self {
        Limit(DEFAULT)
    }
}

impl<'de, const DEFAULT: usize, const MAX: usize> Deserialize<'de> for Limit<DEFAULT, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = usize::deserialize(d)?;
        if (1..=MAX).contains(&n) {
            Ok(Limit(n))
        } else {
            Err(serde::de::Error::custom(format_args!(
                "limit must be 1 to {MAX}"
            )))
        }
    }
}

impl<const DEFAULT: usize, const MAX: usize> JsonSchema for Limit<DEFAULT, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Limit_{DEFAULT}_{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer", "minimum": 1, "maximum": MAX, "default": DEFAULT,
            "description": format!("How many, 1 to {MAX} ({DEFAULT} by default)."),
        })
    }
}

/// Why a listing was not served.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The query asks for something no page can be: the reason says what.
    #[error("{0}")]
    InvalidQuery(Cow<'static, str>),
    #[error(transparent)]
    InvalidCursor(#[from] BadPageToken),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The position a `cursor` (the `next` of the page before) stands for.
pub fn position(cursor: Option<&str>) -> Result<Option<PagePosition>, BadPageToken> {
    cursor.map(PagePosition::from_token).transpose()
}
