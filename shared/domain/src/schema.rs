//! What the API's JSON Schema (built from these types by `schemars`, in
//! osa-http's OpenAPI document) needs that a derive cannot say by itself: the
//! shapes of values written by hand (`time`'s RFC 3339 text), and the
//! constraints validation checks (text that is not blank).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// Somewhere a character that is not white space as Rust's `str::trim` has it
/// (Unicode's White_Space), written out: `\S` means less in some regex dialects.
pub const NOT_BLANK: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// An RFC 3339 time (`time::serde::rfc3339`): `#[schemars(with = "Timestamp")]`.
pub struct Timestamp;

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// A JSON object of any properties: where the API promises no more than that.
pub struct AnyObject;

impl JsonSchema for AnyObject {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "AnyObject".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object"})
    }
}

/// Text of `min..=max` characters that is not blank (what `Violations::text` checks).
pub fn text(min: u32, max: u32) -> Schema {
    json_schema!({"type": "string", "minLength": min, "maxLength": max, "pattern": NOT_BLANK})
}

/// The names of a domain list (`AgentId::ALL`, ...), as a string enumeration.
pub fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Schema {
    let names: Vec<&str> = names.into_iter().collect();
    json_schema!({"type": "string", "enum": names})
}

/// `JsonSchema` for an enumeration the domain lists (`$ty::ALL`, each `as_str`):
/// its schema is that list, so a new member appears without an edit.
#[macro_export]
macro_rules! schema_from_list {
    ($ty:ty, $name:literal) => {
        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                $crate::schema::names(<$ty>::ALL.iter().map(|m| m.as_str()))
            }
        }
    };
}
