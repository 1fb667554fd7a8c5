//! `Text`: a strict JSON string for request bodies. poem-openapi's `String` accepts `12345`
//! and `true` as `"12345"` and `"true"`; for ids and keys that coercion is a type confusion
//! (`"hardware_id": 12345` would take a seat), so request fields use `Text` and a wrong type
//! is a 400 like any other.

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A request string that must be a JSON string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Text(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_json_strings_are_text() {
        assert_eq!(
            Text::parse_from_json(Some(json!("m1"))).unwrap(),
            Text("m1".into())
        );
        assert!(Text::parse_from_json(Some(json!(12345))).is_err());
        assert!(Text::parse_from_json(Some(json!(true))).is_err());
        assert!(Text::parse_from_json(Some(Value::Null)).is_err());
        assert!(Text::parse_from_json(None).is_err());
    }
}
