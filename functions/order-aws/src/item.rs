//! DynamoDB items from and to serde types, through JSON: a record struct derives `Serialize`
//! and `Deserialize`, and this module maps JSON onto attribute values (object → M, array → L,
//! string → S, number → N, bool → BOOL, null → NULL).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

pub type Item = HashMap<String, AttributeValue>;

/// Why an item is not the record it should be.
#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("attribute value of an unsupported type (sets and binary are not used by this system)")]
    Unsupported,
    #[error("number {0:?} is not valid")]
    BadNumber(String),
    #[error("the item does not match the record layout: {0}")]
    Layout(#[from] serde_json::Error),
}

pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(o) => AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

pub fn from_attr(a: &AttributeValue) -> Result<Value, ItemError> {
    Ok(match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                o.insert(k.clone(), from_attr(v)?);
            }
            Value::Object(o)
        }
        _ => return Err(ItemError::Unsupported),
    })
}

fn parse_number(n: &str) -> Result<Number, ItemError> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = n.parse::<u64>() {
        return Ok(Number::from(u));
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| ItemError::BadNumber(n.to_owned()))
}

/// A record as an item. `None` fields (serialized as `null`) are left out.
pub fn to_item<T: Serialize>(record: &T) -> Result<Item, ItemError> {
    match serde_json::to_value(record)? {
        Value::Object(o) => Ok(o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), to_attr(v)))
            .collect()),
        _ => Err(ItemError::NotAnObject),
    }
}

/// An item as a record.
pub fn from_item<T: DeserializeOwned>(item: &Item) -> Result<T, ItemError> {
    let mut o = Map::new();
    for (k, v) in item {
        o.insert(k.clone(), from_attr(v)?);
    }
    Ok(serde_json::from_value(Value::Object(o))?)
}

/// An item as JSON (for pagination cursors).
pub fn item_to_json(item: &Item) -> Result<Value, ItemError> {
    let mut o = Map::new();
    for (k, v) in item {
        o.insert(k.clone(), from_attr(v)?);
    }
    Ok(Value::Object(o))
}

/// JSON as an item (a cursor back into `ExclusiveStartKey`).
pub fn json_to_item(v: &Value) -> Result<Item, ItemError> {
    match v {
        Value::Object(o) => Ok(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
        _ => Err(ItemError::NotAnObject),
    }
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A DynamoDB-JSON value (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...), as stream records
/// carry images, to plain JSON.
pub fn from_dynamodb_json(v: &Value) -> Result<Value, ItemError> {
    let Some((kind, inner)) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(ItemError::Unsupported);
    };
    Ok(match (kind.as_str(), inner) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => Value::Number(parse_number(n)?),
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("L", Value::Array(items)) => {
            Value::Array(items.iter().map(from_dynamodb_json).collect::<Result<_, _>>()?)
        }
        ("M", Value::Object(m)) => {
            let mut o = Map::new();
            for (k, v) in m {
                o.insert(k.clone(), from_dynamodb_json(v)?);
            }
            Value::Object(o)
        }
        _ => return Err(ItemError::Unsupported),
    })
}

/// A stream image (a map of DynamoDB-JSON attributes) as a record.
pub fn from_image<T: DeserializeOwned>(image: &Map<String, Value>) -> Result<T, ItemError> {
    let mut o = Map::new();
    for (k, v) in image {
        o.insert(k.clone(), from_dynamodb_json(v)?);
    }
    Ok(serde_json::from_value(Value::Object(o))?)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Rec {
        id: String,
        count: u64,
        tags: Vec<String>,
        nested: Option<Box<Rec>>,
        flag: bool,
    }

    #[test]
    fn records_round_trip_through_items() {
        let r = Rec {
            id: "a".into(),
            count: 3,
            tags: vec!["x".into()],
            nested: Some(Box::new(Rec {
                id: "b".into(),
                count: 0,
                tags: vec![],
                nested: None,
                flag: false,
            })),
            flag: true,
        };
        let item = to_item(&r).unwrap();
        assert_eq!(item["count"], AttributeValue::N("3".into()));
        assert!(matches!(&item["nested"], AttributeValue::M(m) if m["nested"] == AttributeValue::Null(true)));
        assert_eq!(from_item::<Rec>(&item).unwrap(), r);
    }

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(from_attr(&n(-5)).unwrap(), json!(-5));
        assert_eq!(from_attr(&n(u64::MAX)).unwrap(), json!(u64::MAX));
        assert_eq!(from_attr(&n("1.5")).unwrap(), json!(1.5));
        assert!(from_attr(&n("abc")).is_err());
    }
}
