//! Tests of the local profile ([`super`]).

use infra_model::Env;
use serde_json::json;

use super::*;

fn profile() -> LocalProfile {
    LocalProfile {
        secret_arns: BTreeMap::from([(
            "PaginationKeySecret".to_owned(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-dev/PaginationKeySecret-AbCdEf"
                .to_owned(),
        )]),
        secret_names: BTreeMap::from([(
            "PaginationKeySecret".to_owned(),
            "orders-dev/PaginationKeySecret".to_owned(),
        )]),
    }
}

fn dev() -> Value {
    infra_model::synth(Env::Dev).unwrap().to_value()
}

#[test]
fn the_real_template_keeps_only_what_moto_creates() {
    let original = dev();
    let local = apply(&original, &profile()).unwrap();
    let kept = template::resources(&local.value);
    let types: BTreeSet<&str> = kept.values().map(resource_type).collect();
    for gone in [
        model::apigateway::Stage::TYPE,
        model::apigateway::ApiKey::TYPE,
        model::apigateway::UsagePlan::TYPE,
        model::apigateway::UsagePlanKey::TYPE,
        model::apigateway::Account::TYPE,
        model::apigateway::Model::TYPE,
        model::apigateway::RequestValidator::TYPE,
        model::apigateway::GatewayResponse::TYPE,
        model::cloudwatch::Alarm::TYPE,
        model::sns::EmailSubscription::TYPE,
        model::sns::TopicPolicy::TYPE,
        model::secretsmanager::GeneratedSecret::TYPE,
    ] {
        assert!(!types.contains(gone), "{gone} should be left out");
    }
    for stays in [
        model::dynamodb::Table::TYPE,
        model::sqs::Queue::TYPE,
        model::lambda::Function::TYPE,
        model::lambda::EventSourceMapping::TYPE,
        model::stepfunctions::StateMachine::TYPE,
        model::apigateway::RestApi::TYPE,
        model::apigateway::Method::TYPE,
        model::apigateway::Deployment::TYPE,
        model::kms::Key::TYPE,
        model::kms::Alias::TYPE,
        model::sns::Topic::TYPE,
        model::cloudwatch::Dashboard::TYPE,
        model::logs::LogGroup::TYPE,
        model::iam::Role::TYPE,
    ] {
        assert!(types.contains(stays), "{stays} should stay");
    }
    // No MOCK method, and every non-MOCK method stays.
    let original_methods = template::resources(&original)
        .values()
        .filter(|r| resource_type(r) == model::apigateway::Method::TYPE && !is_mock_method(r))
        .count();
    let methods: Vec<&Value> = kept
        .values()
        .filter(|r| resource_type(r) == model::apigateway::Method::TYPE)
        .collect();
    assert_eq!(methods.len(), original_methods);
    assert!(methods.iter().all(|m| !is_mock_method(m)));
    assert!(
        methods
            .iter()
            .all(|m| m.pointer("/Properties/RequestValidatorId").is_none())
    );

    // Nothing left names a resource that is gone.
    let all_ids: BTreeSet<String> = kept.keys().cloned().collect();
    let params: BTreeSet<String> = local.value["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for (id, r) in &kept {
        for (name, _) in references(r) {
            assert!(
                all_ids.contains(&name) || params.contains(&name) || name.starts_with("AWS::"),
                "{id} still names {name}"
            );
        }
        for d in depends_on(r) {
            assert!(all_ids.contains(&d), "{id} depends on {d}");
        }
    }
    // The functions read the secret's ARN; the dashboard names the stage.
    let f = &kept["OrdersApiFunction"];
    assert_eq!(
        f.pointer("/Properties/Environment/Variables/PAGINATION_KEY_SECRET_ARN")
            .and_then(Value::as_str),
        Some(profile().secret_arns["PaginationKeySecret"].as_str())
    );
    let outputs = local.value["Outputs"].as_object().unwrap();
    assert!(!outputs.contains_key("ApiKeyId"));
    assert_eq!(outputs["ApiUrl"]["Value"]["Fn::Sub"][1]["Stage"], "dev");
    // The unused alarm e-mail goes with its subscription.
    assert!(local.value.get("Conditions").is_none());
    assert!(!params.contains("AlarmEmail"));
    assert!(params.contains("ArtifactsBucket") && params.contains("HealthCodeKey"));

    // Each resource that goes, or changes, has a note; the body is the same template.
    let gone = template::resources(&original).len() - kept.len();
    let left_out = local
        .notes
        .iter()
        .filter(|n| !matches!(n.kind.as_str(), "Output" | "Condition" | "Parameter" | "Template"))
        .filter(|n| n.change != LocalChange::PropertiesDropped)
        .count();
    assert_eq!(left_out, gone);
    let back: Value = serde_json::from_str(&local.body).unwrap();
    assert_eq!(back, local.value);
}

#[test]
fn resources_come_in_dependency_order_in_the_body() {
    let local = apply(&dev(), &profile()).unwrap();
    let pos = |id: &str| local.body.find(&format!("\"{id}\":{{\"")).unwrap();
    let deployment = template::resources(&local.value)
        .keys()
        .find(|k| k.starts_with("ApiDeployment"))
        .cloned()
        .unwrap();
    assert!(pos("ApiMethodGetHealth") < pos(&deployment));
    assert!(pos("OrdersTable") < pos("ReserveStockFunction"));
    assert!(pos("OrderEventsDeadLetterQueue") < pos("OrderEventsQueue"));
}

#[test]
fn what_names_a_left_out_resource_goes_too_unless_a_literal_stands_in() {
    let t = json!({
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
            "UsesAlarmArn": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::GetAtt": ["Alarm", "Arn"]}}},
            "UsesUser": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::GetAtt": ["UsesAlarmArn", "TopicName"]}}},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"StageName": "prod"}},
            "UsesStage": {"Type": "AWS::SQS::Queue", "DependsOn": "Stage", "Properties": {"Y": {"Fn::Sub": "x-${Stage}"}}},
        },
        "Outputs": {
            "A": {"Value": {"Ref": "Alarm"}},
            "S": {"Value": {"Ref": "Stage"}},
        },
    });
    let local = apply(&t, &LocalProfile::default()).unwrap();
    let kept = template::resources(&local.value);
    assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["UsesStage"]);
    assert_eq!(kept["UsesStage"]["Properties"]["Y"], json!({"Fn::Sub": "x-prod"}));
    assert!(kept["UsesStage"].get("DependsOn").is_none());
    assert_eq!(local.value["Outputs"], json!({"S": {"Value": "prod"}}));
    let lines = render_notes(&local.notes);
    assert!(
        lines.contains(
            &"local: left out UsesAlarmArn (AWS::SNS::Topic): it refers to Alarm, which is left out"
                .to_owned()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"local: left out A (Output): it names Alarm, which is left out".to_owned()),
        "{lines:#?}"
    );
}

#[test]
fn updates_moto_cannot_apply_are_told_apart() {
    let props = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(matches!(
        local_update(model::dynamodb::Table::TYPE, &props(&["Tags"])),
        LocalUpdate::NeedsRecreate(_)
    ));
    assert!(matches!(
        local_update(model::logs::LogGroup::TYPE, &props(&["RetentionInDays"])),
        LocalUpdate::NeedsRecreate(_)
    ));
    assert_eq!(
        local_update(model::sqs::Queue::TYPE, &props(&["VisibilityTimeout"])),
        LocalUpdate::Applied
    );
    assert!(
        matches!(local_update(model::sqs::Queue::TYPE, &props(&["RedrivePolicy"])), LocalUpdate::NeedsRecreate(r) if r.contains("RedrivePolicy"))
    );
    assert_eq!(
        local_update(model::lambda::Function::TYPE, &props(&["Code", "MemorySize"])),
        LocalUpdate::Applied
    );
    assert_eq!(
        local_update(model::lambda::Function::TYPE, &props(&["Code", "LoggingConfig"])),
        LocalUpdate::Skipped(props(&["LoggingConfig"]))
    );
    assert_eq!(
        local_update(model::iam::Role::TYPE, &props(&["Policies"])),
        LocalUpdate::Skipped(props(&["Policies"]))
    );
    assert_eq!(
        local_update(
            model::stepfunctions::StateMachine::TYPE,
            &props(&["DefinitionString"])
        ),
        LocalUpdate::Applied
    );
}

#[test]
fn a_secret_without_a_local_one_is_an_error() {
    let t = json!({"Resources": {"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {}}}});
    let err = apply(&t, &LocalProfile::default()).unwrap_err().to_string();
    assert!(err.contains("no local secret"), "{err}");
    let specs = secrets(&dev(), "orders-dev");
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0].name, "orders-dev/PaginationKeySecret");
    assert_eq!(specs[0].length, 64);
    assert!(specs[0].exclude_punctuation);
}

#[test]
fn notes_of_one_kind_share_a_line() {
    let local = apply(&dev(), &profile()).unwrap();
    let lines = render_notes(&local.notes);
    let alarms: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(model::cloudwatch::Alarm::TYPE))
        .collect();
    assert_eq!(alarms.len(), 1, "{lines:#?}");
    let count = template::resources(&dev())
        .values()
        .filter(|r| resource_type(r) == model::cloudwatch::Alarm::TYPE)
        .count();
    assert!(
        alarms[0].starts_with(&format!("local: left out {count} x AWS::CloudWatch::Alarm (")),
        "{}",
        alarms[0]
    );
    assert!(lines.iter().any(|l| {
        l.starts_with("local: left out ApiStage (AWS::ApiGateway::Stage): moto does not create stages")
    }));
    assert!(lines.iter().all(|l| l.starts_with("local: ")));
}
