//! The CloudFormation core: a typed template, intrinsic functions as expressions, logical ids
//! that are checked, and deterministic YAML/JSON emission.

mod expr;
mod parameter;
mod refs;
mod template;
pub mod yaml;

pub use expr::{Cond, Expr, Pseudo, sub_variables};
pub use parameter::{ConditionHandle, ParamHandle, Parameter};
pub use template::{
    AnyHandle, Handle, INLINE_TEMPLATE_LIMIT, LOGICAL_ID_MAX, Options, Output, Policy, RESOURCE_LIMIT,
    Resource, S3_TEMPLATE_LIMIT, SynthError, Synthesized, Template, validate_logical_id,
};

/// A JSON value with the keys of every object in sorted order. Emission must not depend on
/// serde_json's map order, which a dependency elsewhere in a build can change (its
/// `preserve_order` feature keeps insertion order): every JSON text the model writes into a
/// template (a state machine's definition, a dashboard, an event filter, a hash) goes through
/// this, and [`Template::synth`] sorts every value it emits.
pub fn sorted(mut v: serde_json::Value) -> serde_json::Value {
    v.sort_all_objects();
    v
}

/// A key/value tag, as most resource types take them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: Expr,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<Expr>) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A minimal resource type for tests.
    struct Thing(Value);
    impl Resource for Thing {
        const TYPE: &'static str = "AWS::SNS::Topic";
        fn properties(&self) -> Value {
            self.0.clone()
        }
    }

    impl Handle<Thing> {
        fn arn(&self) -> Expr {
            self.att("Arn")
        }
    }

    fn j(e: &Expr) -> Value {
        serde_json::to_value(e).unwrap()
    }

    fn synth_err(t: &Template) -> Vec<String> {
        t.synth().unwrap_err().problems
    }

    #[test]
    fn literals_serialize_as_plain_values() {
        assert_eq!(j(&Expr::str("a")), json!("a"));
        assert_eq!(j(&Expr::int(3)), json!(3));
        assert_eq!(j(&Expr::bool(true)), json!(true));
        assert_eq!(j(&Expr::list(["a", "b"])), json!(["a", "b"]));
        assert_eq!(j(&Expr::map([("b", 1i64), ("a", 2i64)])), json!({"a": 2, "b": 1}));
        assert_eq!(j(&Expr::json(json!({"x": [1]}))), json!({"x": [1]}));
    }

    #[test]
    fn ref_and_get_att_come_from_handles() {
        let mut t = Template::new("t");
        let h = t.add("Topic", Thing(json!({})));
        assert_eq!(j(&h.reference()), json!({"Ref": "Topic"}));
        assert_eq!(j(&h.arn()), json!({"Fn::GetAtt": ["Topic", "Arn"]}));
        assert_eq!(h.sub_ref(), "${Topic}");
        assert_eq!(h.reference().target(), Some("Topic"));
        let p = t.parameter("Stage", Parameter::string("stage"));
        assert_eq!(j(&p.reference()), json!({"Ref": "Stage"}));
    }

    #[test]
    fn sub_has_both_forms() {
        assert_eq!(
            j(&Expr::sub("arn:${AWS::Partition}:x")),
            json!({"Fn::Sub": "arn:${AWS::Partition}:x"})
        );
        assert_eq!(
            j(&Expr::sub_with(
                "${A}-${B}",
                [("A", Expr::str("a")), ("B", Expr::region())]
            )),
            json!({"Fn::Sub": ["${A}-${B}", {"A": "a", "B": {"Ref": "AWS::Region"}}]})
        );
    }

    #[test]
    fn join_select_split_if_import_azs_base64() {
        assert_eq!(
            j(&Expr::join(",", [Expr::str("a"), Expr::stack_name()])),
            json!({"Fn::Join": [",", ["a", {"Ref": "AWS::StackName"}]]})
        );
        assert_eq!(
            j(&Expr::select(1, Expr::azs())),
            json!({"Fn::Select": [1, {"Fn::GetAZs": ""}]})
        );
        assert_eq!(j(&Expr::azs_in("eu-west-1")), json!({"Fn::GetAZs": "eu-west-1"}));
        assert_eq!(
            j(&Expr::split("/", Expr::stack_id())),
            json!({"Fn::Split": ["/", {"Ref": "AWS::StackId"}]})
        );
        let mut t = Template::new("t");
        let c = t.condition("IsProd", Cond::equals(Expr::str("a"), Expr::str("b")));
        assert_eq!(
            j(&Expr::if_(&c, 1i64, Expr::no_value())),
            json!({"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            j(&Expr::import_value("shared-vpc")),
            json!({"Fn::ImportValue": "shared-vpc"})
        );
        assert_eq!(j(&Expr::base64("x")), json!({"Fn::Base64": "x"}));
    }

    #[test]
    fn condition_functions() {
        let mut t = Template::new("t");
        let a = t.condition("A", Cond::equals(Expr::region(), "us-east-1"));
        let c = Cond::and([
            Cond::is(&a),
            Cond::not(Cond::or([Cond::is(&a), Cond::equals("x", "y")])),
        ]);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"Fn::And": [
                {"Condition": "A"},
                {"Fn::Not": [{"Fn::Or": [{"Condition": "A"}, {"Fn::Equals": ["x", "y"]}]}]}
            ]})
        );
    }

    #[test]
    fn every_pseudo_parameter_has_its_cloudformation_name() {
        let names: Vec<_> = Pseudo::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "AWS::Region",
                "AWS::AccountId",
                "AWS::Partition",
                "AWS::StackName",
                "AWS::StackId",
                "AWS::URLSuffix",
                "AWS::NoValue",
                "AWS::NotificationARNs"
            ]
        );
        for p in Pseudo::ALL {
            assert_eq!(Pseudo::from_name(p.name()), Some(p));
            assert_eq!(j(&Expr::from(p)), json!({"Ref": p.name()}));
        }
        assert_eq!(j(&Expr::account_id()), json!({"Ref": "AWS::AccountId"}));
        assert_eq!(j(&Expr::url_suffix()), json!({"Ref": "AWS::URLSuffix"}));
    }

    #[test]
    fn sub_variables_skip_literals_and_report_unterminated() {
        assert_eq!(sub_variables("a${X}b${Y.Arn}${!Lit}").unwrap(), ["X", "Y.Arn"]);
        assert!(sub_variables("oops ${X").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn logical_ids_are_alphanumeric_and_at_most_255() {
        assert!(validate_logical_id("OrdersTable2").is_ok());
        assert!(validate_logical_id("").is_err());
        assert!(validate_logical_id("orders-table").unwrap_err().contains("'-'"));
        assert!(validate_logical_id("Ordérs").is_err());
        assert!(validate_logical_id(&"A".repeat(255)).is_ok());
        assert!(
            validate_logical_id(&"A".repeat(256))
                .unwrap_err()
                .contains("at most 255")
        );
    }

    #[test]
    fn a_retained_resource_with_a_fixed_name_must_not_survive_its_own_failed_create() {
        let mut t = Template::new("t");
        t.add_with(
            "Logs",
            Thing(json!({"LogGroupName": "/aws/lambda/x"})),
            Options::new().policy(Policy::Retain),
        );
        let problems = synth_err(&t);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("resource Logs") && problems[0].contains("RetainExceptOnCreate"));
        let mut t = Template::new("t");
        t.add_with(
            "Logs",
            Thing(json!({"LogGroupName": "/aws/lambda/x"})),
            Options::new().policy(Policy::RetainExceptOnCreate),
        );
        // A generated name may be retained.
        t.add_with(
            "Data",
            Thing(json!({"X": 1})),
            Options::new().policy(Policy::Retain),
        );
        let v = t.synth().unwrap().to_value();
        assert_eq!(v["Resources"]["Logs"]["DeletionPolicy"], "RetainExceptOnCreate");
        assert_eq!(v["Resources"]["Logs"]["UpdateReplacePolicy"], "Retain");
        assert_eq!(v["Resources"]["Data"]["DeletionPolicy"], "Retain");
    }

    #[test]
    fn synth_refuses_bad_and_duplicate_ids() {
        let mut t = Template::new("t");
        t.add("Bad_Id", Thing(json!({})));
        t.add("Twice", Thing(json!({})));
        t.add("Twice", Thing(json!({})));
        t.parameter("Twice", Parameter::string("clash with a resource"));
        let problems = synth_err(&t);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("\"Bad_Id\"") && problems[0].contains("'_'"));
        assert!(problems[1].contains("already used"));
        assert!(problems[2].starts_with("parameter \"Twice\""));
    }

    #[test]
    fn synth_refuses_a_dangling_reference_from_another_template() {
        let mut other = Template::new("other");
        let foreign = other.add("Foreign", Thing(json!({})));
        let mut t = Template::new("t");
        t.add(
            "Local",
            Thing(json!({"TopicName": foreign.reference(), "X": foreign.arn()})),
        );
        let problems = synth_err(&t);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("resource Local: refers to \"Foreign\""),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn synth_checks_names_inside_sub_strings_and_outputs() {
        let mut t = Template::new("t");
        let local = t.add("Local", Thing(json!({})));
        t.add(
            "User",
            Thing(
                serde_json::to_value(Expr::sub("${Local.Arn}/${Missing}/${!Literal}/${AWS::Region}"))
                    .unwrap(),
            ),
        );
        t.output(
            "Out",
            Output::new(Expr::sub_with("${V}/${Gone}", [("V", local.reference())])),
        );
        let problems = synth_err(&t);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("resource User: refers to \"Missing\""));
        assert!(problems[1].starts_with("output Out: refers to \"Gone\""));
    }

    #[test]
    fn synth_refuses_get_att_of_parameter_unknown_condition_and_depends_on() {
        let mut t = Template::new("t");
        t.parameter("P", Parameter::string("p"));
        t.add("A", Thing(json!({"X": {"Fn::GetAtt": ["P", "Arn"]}})));
        let mut elsewhere = Template::new("other");
        let c = elsewhere.condition("Nope", Cond::equals("a", "b"));
        let ghost = elsewhere.add("Ghost", Thing(json!({})));
        t.add_with(
            "B",
            Thing(json!({})),
            Options::new().condition(&c).depends_on(&ghost),
        );
        let problems = synth_err(&t);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("Fn::GetAtt of parameter \"P\""));
        assert!(problems[1].contains("condition \"Nope\""));
        assert!(problems[2].contains("DependsOn \"Ghost\""));
    }

    #[test]
    fn synth_refuses_conditions_that_refer_to_resources() {
        let mut t = Template::new("t");
        let r = t.add("R", Thing(json!({})));
        t.condition("C", Cond::equals(r.reference(), "x"));
        let problems = synth_err(&t);
        assert!(
            problems[0].contains("may only refer to parameters"),
            "{problems:#?}"
        );
    }

    #[test]
    fn synth_refuses_a_dependency_cycle() {
        let mut t = Template::new("t");
        let mut scratch = Template::new("scratch");
        let b_future = scratch.add("B", Thing(json!({})));
        let a = t.add("A", Thing(json!({"Peer": b_future.arn()})));
        t.add("B", Thing(json!({"Peer": a.reference()})));
        let problems = synth_err(&t);
        assert_eq!(problems, ["circular dependency between resources: A -> B -> A"]);
    }

    #[test]
    fn synth_refuses_an_empty_template_and_too_many_resources() {
        assert!(synth_err(&Template::new("t"))[0].contains("at least one resource"));
        let mut t = Template::new("t");
        for i in 0..=RESOURCE_LIMIT {
            t.add(&format!("T{i}"), Thing(json!({})));
        }
        assert!(synth_err(&t)[0].contains("at most 500"));
    }

    #[test]
    fn emission_is_ordered_and_deterministic() {
        let build = || {
            let mut t = Template::new("demo");
            let p = t.parameter("Name", Parameter::string("the name").default_value("x"));
            let prod = t.condition("IsProd", Cond::equals(p.reference(), "prod"));
            let z = t.add("Zeta", Thing(json!({"TopicName": p.reference()})));
            t.add_with(
                "Alpha",
                Thing(json!({"B": 1, "A": z.arn()})),
                Options::new()
                    .policy(Policy::Retain)
                    .depends_on(&z)
                    .condition(&prod),
            );
            t.output(
                "TopicArn",
                Output::new(z.arn())
                    .description("the topic")
                    .export(Expr::sub("${AWS::StackName}-topic")),
            );
            t.synth().unwrap()
        };
        let yaml = build().to_yaml();
        assert_eq!(yaml, build().to_yaml());
        assert_eq!(build().to_json(), build().to_json());
        let expected = "\
AWSTemplateFormatVersion: 2010-09-09
Description: demo
Parameters:
  Name:
    Type: String
    Description: the name
    Default: x
Conditions:
  IsProd:
    Fn::Equals:
    - Ref: Name
    - prod
Resources:
  Alpha:
    Type: AWS::SNS::Topic
    Condition: IsProd
    DependsOn:
    - Zeta
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      A:
        Fn::GetAtt:
        - Zeta
        - Arn
      B: 1
  Zeta:
    Type: AWS::SNS::Topic
    Properties:
      TopicName:
        Ref: Name
Outputs:
  TopicArn:
    Description: the topic
    Value:
      Fn::GetAtt:
      - Zeta
      - Arn
    Export:
      Name:
        Fn::Sub: ${AWS::StackName}-topic
";
        assert_eq!(yaml, expected);
        let json: Value = serde_json::from_str(&build().to_json_compact()).unwrap();
        assert_eq!(json["Resources"]["Alpha"]["DependsOn"], json!(["Zeta"]));
    }
}
