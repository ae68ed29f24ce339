//! JSON Schemas of the contract types, in the dialect API Gateway models accept (draft 4, no
//! `$ref` to definitions, no non-standard formats).

use schemars::JsonSchema;
use serde_json::{Map, Value};

/// The draft-4 JSON Schema of a request type, for an API Gateway model.
pub fn api_gateway_schema<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let root = generator.into_root_schema_for::<T>();
    let mut v = root.to_value();
    let definitions = v
        .as_object_mut()
        .and_then(|o| o.remove("definitions"))
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default();
    inline(&mut v, &definitions);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "$schema".into(),
            Value::String("http://json-schema.org/draft-04/schema#".into()),
        );
    }
    v
}

/// Formats draft 4 knows; others (`uint32`, `double`, ...) are schemars' hints and are dropped.
const DRAFT4_FORMATS: [&str; 6] = ["date-time", "email", "hostname", "ipv4", "ipv6", "uri"];

fn inline(v: &mut Value, defs: &Map<String, Value>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref")
                && let Some(def) = r.strip_prefix("#/definitions/").and_then(|n| defs.get(n))
            {
                let mut def = def.clone();
                o.remove("$ref");
                if let Value::Object(d) = &mut def {
                    for (k, val) in std::mem::take(o) {
                        d.insert(k, val);
                    }
                }
                *v = def;
                inline(v, defs);
                return;
            }
            if let Some(Value::String(f)) = o.get("format")
                && !DRAFT4_FORMATS.contains(&f.as_str())
            {
                o.remove("format");
            }
            // Draft 4 writes an exclusive bound as a flag on `minimum`.
            if let Some(bound) = o.get("exclusiveMinimum").filter(|b| b.is_number()).cloned() {
                o.insert("minimum".into(), bound);
                o.insert("exclusiveMinimum".into(), Value::Bool(true));
            }
            o.values_mut().for_each(|x| inline(x, defs));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| inline(x, defs)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::contract::api::{CreateOrderRequest, PutInventoryRequest};

    #[test]
    fn create_order_schema_is_self_contained_draft4() {
        let s = api_gateway_schema::<CreateOrderRequest>();
        let text = s.to_string();
        assert!(!text.contains("$ref") && !text.contains("definitions"), "{text}");
        assert_eq!(s["$schema"], "http://json-schema.org/draft-04/schema#");
        assert_eq!(s["additionalProperties"], false);
        let items = &s["properties"]["items"];
        assert_eq!(items["minItems"], 1);
        assert_eq!(items["maxItems"], 99);
        let item = &items["items"];
        assert_eq!(item["properties"]["quantity"]["minimum"], 1);
        assert_eq!(item["properties"]["quantity"]["maximum"], 1000);
        assert!(item["properties"]["quantity"].get("format").is_none());
        assert_eq!(item["properties"]["price"]["type"], "number");
        assert_eq!(item["properties"]["price"]["minimum"], 0);
        assert_eq!(item["properties"]["price"]["exclusiveMinimum"], true);
        assert_eq!(item["properties"]["price"]["multipleOf"], 0.01);
        assert_eq!(
            s["properties"]["paymentMethod"]["enum"],
            json!(["CARD", "PAYPAL", "BANK_TRANSFER"])
        );
        assert_eq!(
            s["properties"]["customerEmail"]["pattern"],
            crate::contract::api::patterns::EMAIL
        );
        let required: Vec<_> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            required,
            [
                "customerName",
                "customerEmail",
                "items",
                "shippingAddress",
                "paymentMethod"
            ]
        );
    }

    #[test]
    fn optional_fields_are_not_required() {
        let s = api_gateway_schema::<PutInventoryRequest>();
        let required: Vec<_> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["stock", "price", "name"]);
    }
}
