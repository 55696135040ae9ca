//! Field-path validation errors and JSON parsing that reports where it failed.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One problem with one field, addressed by a path such as
/// `business_context.goals[2]` or `agent_data.hero.metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Why a request body could not be turned into a typed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBody {
    /// Not JSON at all (or truncated).
    #[error("request body is not valid JSON: {0}")]
    Syntax(String),
    /// Valid JSON that breaks the schema; every violation found, each with its path.
    #[error("request body failed validation")]
    Schema(Vec<FieldError>),
}

/// Collects violations so a client sees all of them at once.
#[derive(Debug, Default)]
pub struct Violations {
    errors: Vec<FieldError>,
    prefix: String,
}

impl Violations {
    /// Paths are reported relative to `prefix` (empty for the document root).
    pub fn at(prefix: &str) -> Self {
        Violations {
            errors: Vec::new(),
            prefix: prefix.to_owned(),
        }
    }

    pub fn push(&mut self, path: impl AsRef<str>, message: impl Into<String>) {
        let path = path.as_ref();
        let full = match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{}", self.prefix, path),
        };
        self.errors.push(FieldError::new(full, message));
    }

    /// Checks a string's length in characters (not bytes).
    pub fn text(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if value.trim().is_empty() && min > 0 {
            self.push(path, "must not be empty");
        } else if len < min {
            self.push(
                path,
                format!("must be at least {min} characters (got {len})"),
            );
        } else if len > max {
            self.push(
                path,
                format!("must be at most {max} characters (got {len})"),
            );
        }
    }

    pub fn count(&mut self, path: &str, len: usize, min: usize, max: usize) {
        if len < min || len > max {
            let want = if min == max {
                format!("exactly {min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            self.push(path, format!("must have {want} items (got {len})"));
        }
    }

    pub fn range(&mut self, path: &str, value: f64, min: f64, max: f64) {
        if !(min..=max).contains(&value) {
            self.push(
                path,
                format!("must be between {min} and {max} (got {value})"),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn into_result<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// Deserialises `T` from raw bytes, which must hold a JSON object; a shape error
/// carries the path it happened at.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, InvalidBody> {
    // Most bodies are valid: read them without tracking where the reader is,
    // and read a refused one again to say where it went wrong.
    if let Ok(Object(value)) =
        Object::<T>::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
    {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let Object(value) = serde_path_to_error::deserialize(de).map_err(shape_or_syntax)?;
    Ok(value)
}

/// A `T` read only from a JSON object. Serde reads a struct from an array as well
/// (`["a", "b"]` as its first two fields), which no client of this API means.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// For `#[serde(default, deserialize_with = "optional_object")]` on an
/// `Option<T>` field: absent or null is `None`, else a JSON object.
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Object<T>>::deserialize(deserializer)?.map(|Object(value)| value))
}

/// The paths under `root` of `value` that should hold objects and hold something
/// else (absent and null are the schema's business). `name[]` is every item of the
/// array `name`; `""` is `value` itself. For values parsed already, where
/// `Object` cannot be put in the way.
pub fn objects_at(value: &serde_json::Value, root: &str, paths: &[&str]) -> Vec<FieldError> {
    fn walk(value: &serde_json::Value, at: String, rest: &[&str], out: &mut Vec<FieldError>) {
        let Some((first, rest)) = rest.split_first() else {
            if !value.is_object() && !value.is_null() {
                out.push(FieldError::new(at, "must be an object"));
            }
            return;
        };
        let join = |name: &str| match at.is_empty() {
            true => name.to_owned(),
            false => format!("{at}.{name}"),
        };
        match first.strip_suffix("[]") {
            Some(name) => {
                if let Some(items) = value.get(name).and_then(|v| v.as_array()) {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, format!("{}[{i}]", join(name)), rest, out);
                    }
                }
            }
            None => {
                if let Some(inner) = value.as_object().and_then(|o| o.get(*first)) {
                    walk(inner, join(first), rest, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
        walk(value, root.to_owned(), &segments, &mut out);
    }
    out
}

/// Deserialises `T` from an already parsed JSON value, prefixing paths with `root`.
pub fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    root: &str,
) -> Result<T, Vec<FieldError>> {
    // As in `parse_json`: the path is tracked only to explain a refusal.
    if let Ok(parsed) = T::deserialize(value) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (root.is_empty(), inner.as_str()) {
            (_, ".") => root.to_owned(),
            (true, _) => inner,
            (false, _) => format!("{root}.{inner}"),
        };
        vec![FieldError::new(path, clean_message(&e.inner().to_string()))]
    })
}

fn shape_or_syntax(e: serde_path_to_error::Error<serde_json::Error>) -> InvalidBody {
    use serde_json::error::Category;
    match e.inner().classify() {
        Category::Data => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            InvalidBody::Schema(vec![FieldError::new(
                path,
                clean_message(&e.inner().to_string()),
            )])
        }
        Category::Syntax | Category::Eof | Category::Io => {
            InvalidBody::Syntax(e.inner().to_string())
        }
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn clean_message(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        items: Vec<u8>,
    }

    #[test]
    fn shape_errors_carry_the_path() {
        let err = parse_json::<Outer>(br#"{"inner":{"items":[1,"x"]}}"#).unwrap_err();
        match err {
            InvalidBody::Schema(errors) => {
                assert_eq!(errors[0].path, "inner.items[1]");
                assert!(!errors[0].message.contains("line"));
            }
            other => panic!("expected schema error, got {other:?}"),
        }
    }

    #[test]
    fn broken_json_is_a_syntax_error() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"inner\":"),
            Err(InvalidBody::Syntax(_))
        ));
        assert!(matches!(
            parse_json::<Outer>(b"\xff\xfe"),
            Err(InvalidBody::Syntax(_))
        ));
    }

    #[test]
    fn violations_prefix_paths_and_count_characters() {
        let mut v = Violations::at("business_context");
        v.text("company_name", "ééé", 1, 3);
        v.text("target_audience", "short", 10, 500);
        v.count("goals", 0, 1, 10);
        let errors = v.into_result(()).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].path, "business_context.target_audience");
        assert_eq!(errors[1].path, "business_context.goals");
    }
}
