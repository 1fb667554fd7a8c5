//! `Day`: a calendar day (`2026-11-25`) documented as OpenAPI's `string`/`date`. poem-openapi
//! names `chrono::NaiveDate` `naive-date`, a format no generator knows, so generated clients
//! typed days as plain strings.

use std::borrow::Cow;

use chrono::NaiveDate;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// A calendar day, `YYYY-MM-DD` (RFC 3339 `full-date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub NaiveDate);

impl Day {
    fn parse(text: &str) -> ParseResult<Self> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Day)
            .map_err(|_| ParseError::custom("expected a day as YYYY-MM-DD"))
    }
}

impl Type for Day {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for Day {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Day::parse(&text),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ParseFromParameter for Day {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Day::parse(value)
    }
}

impl ToJSON for Day {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn days_are_full_dates_both_ways() {
        let day = Day(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap());
        assert_eq!(Day::parse_from_parameter("2026-02-03").unwrap(), day);
        assert_eq!(
            Day::parse_from_json(Some(json!("2026-02-03"))).unwrap(),
            day
        );
        assert_eq!(day.to_json(), Some(json!("2026-02-03")));
        for bad in ["2026-02-30", "2026-2-3x", "03/02/2026", ""] {
            assert!(Day::parse_from_parameter(bad).is_err(), "{bad}");
        }
        assert!(Day::parse_from_json(Some(json!(20260203))).is_err());
        assert!(Day::parse_from_json(None).is_err());
        match Day::schema_ref() {
            MetaSchemaRef::Inline(schema) => {
                assert_eq!((schema.ty, schema.format), ("string", Some("date")));
            }
            MetaSchemaRef::Reference(name) => panic!("a reference to {name}"),
        }
    }
}
