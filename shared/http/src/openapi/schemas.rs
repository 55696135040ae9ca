//! The document's `components.schemas`, derived from the Rust types the API
//! reads and writes (`schemars`, JSON Schema 2020-12 as OpenAPI 3.1 has it).
//! Answers are described as they are written (`Contract::Serialize`: a field
//! always written is required) and bodies as they are read (a field with a
//! default may be left out), so a type on both sides whose two readings differ
//! is named twice: its body reading gets `Input` after its name.

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use schemars::transform::{RecursiveTransform, Transform};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

const DEFINITIONS: &str = "/components/schemas";
const REF_PREFIX: &str = "#/components/schemas/";

/// The schemas the document names, gathered while its operations are described.
pub(super) struct Schemas {
    answers: SchemaGenerator,
    bodies: SchemaGenerator,
    /// The body schemas handed out, to rename their references at the end.
    body_refs: Vec<Value>,
}

impl Schemas {
    pub(super) fn new() -> Schemas {
        let settings = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = DEFINITIONS.into();
                s.meta_schema = None;
            })
            .with_transform(RecursiveTransform(plain_description));
        Schemas {
            answers: settings.clone().for_serialize().into_generator(),
            bodies: settings.for_deserialize().into_generator(),
            body_refs: Vec::new(),
        }
    }

    /// The schema of an answer of type `T` (a `$ref` for a named type).
    pub(super) fn answer<T: JsonSchema>(&mut self) -> Value {
        self.answers.subschema_for::<T>().to_value()
    }

    /// The schema of a request body of type `T`, as its `$ref` will be named.
    pub(super) fn body<T: JsonSchema>(&mut self) -> usize {
        let schema = self.bodies.subschema_for::<T>().to_value();
        self.body_refs.push(schema);
        self.body_refs.len() - 1
    }

    /// One parameter per property of `T`, read from the query string.
    pub(super) fn query<T: JsonSchema>(&mut self) -> Vec<Value> {
        let schema = T::json_schema(&mut self.bodies).to_value();
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let Some(properties) = schema["properties"].as_object() else {
            return Vec::new();
        };
        properties
            .iter()
            .map(|(name, property)| {
                let mut property = non_null(property.clone());
                if let Ok(schema) = <&mut Schema>::try_from(&mut property) {
                    RecursiveTransform(plain_description).transform(schema);
                }
                let mut parameter = json!({
                    "name": name, "in": "query", "required": required.contains(name.as_str()),
                });
                if let Some(description) = property
                    .as_object_mut()
                    .and_then(|p| p.remove("description"))
                {
                    parameter["description"] = description;
                }
                parameter["schema"] = property;
                parameter
            })
            .collect()
    }

    /// The schema of a path parameter of type `T`.
    pub(super) fn path<T: JsonSchema>(&mut self) -> Value {
        non_null(self.bodies.subschema_for::<T>().to_value())
    }

    /// Every schema by name, and the body schemas handed out (by the index
    /// [`Schemas::body`] gave), their references renamed.
    pub(super) fn finish(mut self) -> (Map<String, Value>, Vec<Value>) {
        let mut all = self.answers.take_definitions(true);
        let bodies = self.bodies.take_definitions(true);
        let renames = renames(&all, &bodies);
        for (name, mut schema) in bodies {
            rename_refs(&mut schema, &renames);
            let name = renames.get(&name).cloned().unwrap_or(name);
            all.entry(name).or_insert(schema);
        }
        for schema in &mut self.body_refs {
            rename_refs(schema, &renames);
        }
        (all, self.body_refs)
    }
}

/// The body schemas that must be named apart: those whose reading differs from
/// the answer of the same name, and those that refer to one.
fn renames(answers: &Map<String, Value>, bodies: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut apart: BTreeSet<&str> = bodies
        .iter()
        .filter(|(name, schema)| answers.get(*name).is_some_and(|a| a != *schema))
        .map(|(name, _)| name.as_str())
        .collect();
    loop {
        let more: Vec<&str> = bodies
            .iter()
            .filter(|(name, _)| answers.contains_key(*name) && !apart.contains(name.as_str()))
            .filter(|(_, schema)| apart.iter().any(|a| refers_to(schema, a)))
            .map(|(name, _)| name.as_str())
            .collect();
        if more.is_empty() {
            break;
        }
        apart.extend(more);
    }
    apart
        .into_iter()
        .map(|name| (name.to_owned(), format!("{name}Input")))
        .collect()
}

fn refers_to(schema: &Value, name: &str) -> bool {
    match schema {
        Value::Object(map) => map.iter().any(|(key, value)| {
            (key == "$ref" && value.as_str() == Some(&format!("{REF_PREFIX}{name}")))
                || refers_to(value, name)
        }),
        Value::Array(items) => items.iter().any(|v| refers_to(v, name)),
        _ => false,
    }
}

fn rename_refs(schema: &mut Value, renames: &BTreeMap<String, String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let renamed = (key == "$ref")
                    .then(|| value.as_str()?.strip_prefix(REF_PREFIX))
                    .flatten()
                    .and_then(|name| renames.get(name));
                match renamed {
                    Some(new) => *value = Value::String(format!("{REF_PREFIX}{new}")),
                    None => rename_refs(value, renames),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}

/// Doc comments become descriptions; rustdoc's links read as plain code here.
fn plain_description(schema: &mut Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text.replace("[`", "`").replace("`]", "`");
    }
}

/// `schema` without its `null`: a parameter that is absent is not null.
fn non_null(mut schema: Value) -> Value {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema["type"] = only;
        }
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        let kept: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&json!("null")))
            .collect();
        if let ([only], Some(map)) = (kept.as_slice(), schema.as_object()) {
            let mut merged = (*only).clone();
            for (key, value) in map.iter().filter(|(k, _)| *k != "anyOf") {
                merged[key] = value.clone();
            }
            return merged;
        }
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.retain(|v| !v.is_null());
    }
    schema
}
