use super::*;

static FN: Function = Function {
    name: "fn",
    id: "Fn",
    description: "a task",
    trigger: crate::decl::Trigger::WorkflowTask,
    bindings: &[],
    config: &[],
    sizing: [crate::decl::Sizing::new(128, 3, 1); 3],
};

fn task(next: Transition, catch_to: Option<&str>) -> State {
    State::Task(Task {
        comment: "t".into(),
        function: &FN,
        payload: json!({"orderId.$": "$.orderId"}),
        result_selector: None,
        result_path: Some("$.r".into()),
        timeout_seconds: 10,
        retry: vec![Retrier::new(["Boom"], Duration::from_secs(1), 2)],
        catch: catch_to
            .map(|n| {
                vec![Catcher {
                    error_equals: vec!["States.ALL".into()],
                    result_path: "$.failure".into(),
                    next: n.into(),
                }]
            })
            .unwrap_or_default(),
        then: next,
    })
}

#[test]
fn a_valid_definition_has_no_problems_and_emits_asl() {
    let d = Definition {
        comment: "c".into(),
        start_at: "A".into(),
        timeout_seconds: 60,
        states: vec![
            ("A".into(), task(Transition::Next("Done".into()), Some("Oops"))),
            ("Done".into(), State::Succeed { comment: "ok".into() }),
            (
                "Oops".into(),
                State::Fail {
                    comment: "f".into(),
                    error: "E".into(),
                    cause: "c".into(),
                },
            ),
        ],
    };
    assert_eq!(d.problems(), Vec::<String>::new());
    let asl = d.to_asl();
    assert_eq!(asl["StartAt"], "A");
    assert_eq!(
        asl["States"]["A"]["Parameters"]["FunctionName"],
        "${FnFunctionArn}"
    );
    assert_eq!(asl["States"]["A"]["Retry"][0]["BackoffRate"], 2.0);
    assert_eq!(asl["States"]["A"]["Catch"][0]["Next"], "Oops");
    assert_eq!(
        d.substitutions().into_iter().collect::<Vec<_>>(),
        ["FnFunctionArn"]
    );
}

#[test]
fn every_kind_of_broken_reference_is_reported() {
    let d = Definition {
        comment: "c".into(),
        start_at: "Nowhere".into(),
        timeout_seconds: 60,
        states: vec![
            (
                "A".into(),
                task(Transition::Next("Ghost".into()), Some("Phantom")),
            ),
            (
                "C".into(),
                State::Choice {
                    comment: "c".into(),
                    rules: vec![Rule::StringEquals {
                        variable: "$.x".into(),
                        value: "y".into(),
                        next: "Missing".into(),
                    }],
                    default: "A".into(),
                },
            ),
            (
                "A".into(),
                State::Succeed {
                    comment: "dup".into(),
                },
            ),
        ],
    };
    let p = d.problems();
    for expected in [
        "state \"A\" is defined twice",
        "StartAt \"Nowhere\" is not a state",
        "state \"A\" goes to \"Ghost\", which is not a state",
        "state \"A\" goes to \"Phantom\", which is not a state",
        "state \"C\" goes to \"Missing\", which is not a state",
        "state \"A\" cannot be reached from \"Nowhere\"",
    ] {
        assert!(p.iter().any(|x| x == expected), "missing {expected:?} in {p:#?}");
    }
}

#[test]
fn states_all_must_be_alone_and_last() {
    let mut t = match task(Transition::End, None) {
        State::Task(t) => t,
        _ => unreachable!(),
    };
    t.retry = vec![
        Retrier::new(["States.ALL", "X"], Duration::from_secs(1), 1),
        Retrier::new(["Y"], Duration::from_secs(1), 1),
    ];
    let d = Definition {
        comment: "c".into(),
        start_at: "T".into(),
        timeout_seconds: 1,
        states: vec![("T".into(), State::Task(t))],
    };
    let p = d.problems();
    assert!(p.iter().any(|x| x.contains("must appear alone")), "{p:#?}");
    assert!(p.iter().any(|x| x.contains("must be the last one")), "{p:#?}");
}

#[test]
fn a_definition_that_never_ends_is_refused() {
    let d = Definition {
        comment: "c".into(),
        start_at: "P".into(),
        timeout_seconds: 1,
        states: vec![(
            "P".into(),
            State::Pass {
                comment: "loop".into(),
                parameters: None,
                result_path: None,
                then: Transition::Next("P".into()),
            },
        )],
    };
    assert_eq!(d.problems(), ["no state ends the execution"]);
}
