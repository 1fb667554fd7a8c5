//! `Whole`: a whole number in a request body, read from any JSON number so that an out-of-range
//! one is refused by the field's `validator(minimum, maximum)` — whose error names the field —
//! instead of by the number type. poem-openapi's `u32` refuses `-1` or `1e12` before it knows
//! which field it is reading, so the 400 could not say which; with `Whole` it does.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A JSON number a request field holds; [`Whole::get`] makes it a `u32` (or says which field
/// is not one). Declare the field's range with `#[oai(validator(minimum, maximum))]`: it is
/// checked, and documented in the OpenAPI document as an `integer`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Whole(pub f64);

impl Whole {
    /// The number as a `u32`: a 400 naming `field` when it is not a whole number in range
    /// (the validators usually said so already; fractions reach here).
    pub fn get(self, field: &'static str) -> license_core::Result<u32> {
        let n = self.0;
        if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
            return Err(license_core::Error::invalid(
                field,
                format!("must be a whole number from 0 to {}", u32::MAX),
            ));
        }
        // In range and whole: the cast is exact.
        Ok(n as u32)
    }
}

impl Type for Whole {
    const IS_REQUIRED: bool = true;

    type RawValueType = f64;

    type RawElementValueType = f64;

    fn name() -> Cow<'static, str> {
        "integer_whole".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for Whole {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Whole)
                .ok_or_else(|| ParseError::custom("expected a number")),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for Whole {
    fn to_json(&self) -> Option<Value> {
        serde_json::Number::from_f64(self.0).map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn any_json_number_parses_and_only_whole_ones_in_range_are_u32() {
        for (value, expected) in [
            (json!(0), Some(0)),
            (json!(3600), Some(3600)),
            (json!(4_294_967_295_u64), Some(u32::MAX)),
            (json!(-1), None),
            (json!(1.5), None),
            (json!(4_294_967_296_u64), None),
            (json!(1e300), None),
        ] {
            let whole = Whole::parse_from_json(Some(value.clone())).unwrap();
            match (whole.get("borrow_seconds"), expected) {
                (Ok(n), Some(e)) => assert_eq!(n, e, "{value}"),
                (Err(license_core::Error::InvalidInput { field, .. }), None) => {
                    assert_eq!(field, "borrow_seconds");
                }
                (other, _) => panic!("{value}: {other:?}"),
            }
        }
        assert!(Whole::parse_from_json(Some(json!("12"))).is_err());
        assert!(Whole::parse_from_json(Some(Value::Null)).is_err());
    }
}
