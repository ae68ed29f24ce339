use infra_model::aws as model;
use infra_model::cfn::Resource as _;
use serde_json::json;

use super::*;

#[test]
fn references_cover_ref_getatt_and_sub() {
    let v = json!({
        "A": {"Ref": "Queue"},
        "B": {"Fn::GetAtt": ["Role", "Arn"]},
        "C": {"Fn::Sub": "arn:${AWS::Partition}:x:${Table}/${Fn.Arn}/${!Literal}"},
        "D": {"Fn::Sub": ["${Local}-${Topic}", {"Local": {"Ref": "Param"}}]},
    });
    let mut refs = references(&v);
    refs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        refs,
        vec![
            ("AWS::Partition".into(), RefKind::SubVar),
            ("Fn".into(), RefKind::SubAttr),
            ("Param".into(), RefKind::Ref),
            ("Queue".into(), RefKind::Ref),
            ("Role".into(), RefKind::GetAtt),
            ("Table".into(), RefKind::SubVar),
            ("Topic".into(), RefKind::SubVar),
        ]
    );
}

#[test]
fn substitution_replaces_refs_and_sub_variables_but_not_local_names() {
    let mut v = json!({
        "A": {"Ref": "Stage"},
        "B": {"Fn::Sub": "https://x/${Stage}/${Other}"},
        "C": {"Fn::Sub": ["${Stage}-${Name}", {"Name": {"Ref": "Stage"}}]},
        "D": {"Fn::Sub": ["${Stage}", {"Stage": "local"}]},
    });
    substitute(&mut v, &BTreeMap::from([("Stage".to_owned(), "dev".to_owned())]));
    assert_eq!(
        v,
        json!({
            "A": "dev",
            "B": {"Fn::Sub": "https://x/dev/${Other}"},
            "C": {"Fn::Sub": ["dev-${Name}", {"Name": "dev"}]},
            "D": {"Fn::Sub": ["${Stage}", {"Stage": "local"}]},
        })
    );
}

#[test]
fn dependency_order_puts_what_is_named_first() {
    let t = json!({"Resources": {
        "A": {"Type": "T", "DependsOn": ["C"]},
        "B": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}},
        "C": {"Type": "T", "Properties": {"Y": {"Fn::Sub": "${D}"}}},
        "D": {"Type": "T"},
    }});
    assert_eq!(dependency_order(&resources(&t)), vec!["D", "C", "A", "B"]);
    let body = to_json_ordered(&t, &dependency_order(&resources(&t)));
    assert!(body.find("\"D\"") < body.find("\"C\"") && body.find("\"A\"") < body.find("\"B\""));
    let back: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(back, t);
}

#[test]
fn bodies_are_sorted_whatever_order_the_template_was_built_in() {
    // json! keeps insertion order when serde_json's preserve_order is on (test builds).
    let t = json!({
        "Resources": {
            "B": {"Type": "T", "Properties": {"Z": 1, "A": {"Y": 2, "X": 3}}},
            "A": {"Properties": {"Q": [{"N": 1, "M": 2}]}, "Type": "T"},
        },
        "AWSTemplateFormatVersion": "2010-09-09",
    });
    assert_eq!(
        body(&t),
        r#"{"AWSTemplateFormatVersion":"2010-09-09","Resources":{"A":{"Properties":{"Q":[{"M":2,"N":1}]},"Type":"T"},"B":{"Properties":{"A":{"X":3,"Y":2},"Z":1},"Type":"T"}}}"#
    );
    assert_eq!(
        to_json_ordered(&t, &["B".into(), "A".into()]),
        r#"{"AWSTemplateFormatVersion":"2010-09-09","Resources":{"B":{"Properties":{"A":{"X":3,"Y":2},"Z":1},"Type":"T"},"A":{"Properties":{"Q":[{"M":2,"N":1}]},"Type":"T"}}}"#
    );
    // The model's template (Synthesized::to_value keeps the document's field order under
    // preserve_order: Type before Properties): read back in the text's order, every object
    // is sorted.
    fn all_sorted(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.keys().is_sorted() && m.values().all(all_sorted),
            Value::Array(a) => a.iter().all(all_sorted),
            _ => true,
        }
    }
    let model = infra_model::synth(infra_model::Env::Dev).unwrap().to_value();
    let back: Value = serde_json::from_str(&body(&model)).unwrap();
    assert!(all_sorted(&back));
    assert_eq!(back, model);
    let local = to_json_ordered(&model, &dependency_order(&resources(&model)));
    let back: Value = serde_json::from_str(&local).unwrap();
    assert!(back.as_object().unwrap().keys().is_sorted());
    assert!(back["Resources"].as_object().unwrap().values().all(all_sorted));
}

#[test]
fn parameters_get_bucket_code_keys_and_keep_the_alarm_email() {
    let t = json!({"Parameters": {
        "ArtifactsBucket": {"Type": "String"},
        "HealthCodeKey": {"Type": "String"},
        "AlarmEmail": {"Type": "String", "Default": ""},
    }});
    let artifacts = [Artifact {
        function: "health".into(),
        zip: "x".into(),
        sha256: "ab".repeat(32),
    }];
    let deployed = BTreeMap::from([("AlarmEmail".to_owned(), "ops@example.com".to_owned())]);
    let values = parameter_values(
        &t,
        &ParameterInputs {
            bucket: "b",
            artifacts: &artifacts,
            alarm_email: None,
            deployed: &deployed,
        },
    );
    let values = values.unwrap_or_default();
    assert_eq!(values["ArtifactsBucket"], "b");
    assert_eq!(
        values["HealthCodeKey"],
        format!("functions/health/{}.zip", "ab".repeat(32))
    );
    assert_eq!(values["AlarmEmail"], "ops@example.com");

    let none = parameter_values(
        &t,
        &ParameterInputs {
            bucket: "b",
            artifacts: &[],
            alarm_email: None,
            deployed: &BTreeMap::new(),
        },
    );
    let err = format!("{:#}", none.err().map(|e| e.to_string()).unwrap_or_default());
    assert!(
        err.contains("health") && err.contains("cargo xtask build"),
        "{err}"
    );
}

#[test]
fn changed_properties_come_from_the_templates_and_the_parameters() {
    let old = json!({"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30, "DelaySeconds": 0, "Name": {"Ref": "P"}}});
    let new = json!({"Type": "AWS::SQS::Queue", "DependsOn": "X", "Properties": {"VisibilityTimeout": 60, "Name": {"Ref": "P"}}});
    let params = BTreeSet::from(["P".to_owned()]);
    assert_eq!(
        changed_properties(Some(&old), &new, &params),
        vec!["DelaySeconds", "DependsOn", "Name", "VisibilityTimeout"]
    );
}

#[test]
fn a_changed_parameter_modifies_the_resources_that_use_it() {
    let t = json!({"Resources": {
        "HealthFunction": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": {"Ref": "HealthCodeKey"}}}},
        "Other": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }});
    let a = BTreeMap::from([("HealthCodeKey".to_owned(), "1".to_owned())]);
    let b = BTreeMap::from([("HealthCodeKey".to_owned(), "2".to_owned())]);
    let changed = changed_parameters(&a, &b);
    assert_eq!(
        resources_using(&t, &changed),
        vec![(
            "HealthFunction".to_owned(),
            model::lambda::Function::TYPE.to_owned(),
            vec!["HealthCodeKey".to_owned()]
        )]
    );
}
