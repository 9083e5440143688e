//! client-go's jsonpath_test.go, ported: its inputs as the unstructured JSON kubectl hands the
//! printer (so a Go struct's fields come out as a map's keys, sorted).

use serde_json::{Value, json};

use super::{EvalError, Options, Template};

fn render(template: &str, data: &Value, allow_missing_keys: bool) -> Result<String, String> {
    let template = Template::parse(template).map_err(|e| format!("parse: {e}"))?;
    template.render(data, Options { allow_missing_keys, as_json: false }).map_err(|e| e.to_string())
}

/// Each `(template, expected)` on `data`; `Err` expects an error containing the text.
fn check(data: &Value, allow_missing_keys: bool, cases: &[(&str, Result<&str, &str>)]) {
    for (template, expected) in cases {
        let got = render(template, data, allow_missing_keys);
        match expected {
            Ok(text) => assert_eq!(got.as_deref(), Ok(*text), "{template}"),
            Err(message) => {
                let error = got.expect_err(template);
                assert!(error.contains(message), "{template}: {error:?} does not say {message:?}");
            }
        }
    }
}

#[test]
fn slices_of_each_type() {
    let types = json!({
        "bools": [true, false, true, false],
        "integers": [1, 2, 3, 4],
        "floats": [1.0, 2.2, 3.3, 4.0],
        "strings": ["one", "two", "three", "four"],
        "interfaces": [true, "one", 1, 1.1],
        "maps": [
            {"name": "one", "value": 1},
            {"name": "two", "value": 2.02},
            {"name": "three", "value": 3.03},
            {"name": "four", "value": 4.04},
        ],
    });
    check(
        &types,
        false,
        &[
            ("{ .bools }", Ok("[true,false,true,false]")),
            ("{ .bools[0] }", Ok("true")),
            ("{ .bools[-1] }", Ok("false")),
            ("{ .bools[0:2] }", Ok("true false")),
            ("{ .bools[:2] }", Ok("true false")),
            ("{ .bools[:4:2] }", Ok("true true")),
            ("{ .integers }", Ok("[1,2,3,4]")),
            ("{ .integers[-2] }", Ok("3")),
            ("{ .integers[:4:2] }", Ok("1 3")),
            ("{ .floats }", Ok("[1,2.2,3.3,4]")),
            ("{ .floats[0] }", Ok("1")),
            ("{ .floats[-2] }", Ok("3.3")),
            ("{ .floats[:2] }", Ok("1 2.2")),
            ("{ .strings }", Ok(r#"["one","two","three","four"]"#)),
            ("{ .strings[0] }", Ok("one")),
            ("{ .strings[:4:2] }", Ok("one three")),
            ("{ .interfaces }", Ok(r#"[true,"one",1,1.1]"#)),
            ("{ .interfaces[0:2] }", Ok("true one")),
            ("{ .interfaces[:4:2] }", Ok("true 1")),
            ("{ .maps[0] }", Ok(r#"{"name":"one","value":1}"#)),
            ("{ .maps[-2] }", Ok(r#"{"name":"three","value":3.03}"#)),
            ("{ .maps[::2] }", Ok(r#"{"name":"one","value":1} {"name":"three","value":3.03}"#)),
            ("{ .maps[1::2] }", Ok(r#"{"name":"two","value":2.02} {"name":"four","value":4.04}"#)),
        ],
    );
}

fn store() -> Value {
    json!({
        "Name": "jsonpath",
        "Book": [
            {"Category": "reference", "Author": "Nigel Rees", "Title": "Sayings of the Centurey", "Price": 8.95},
            {"Category": "fiction", "Author": "Evelyn Waugh", "Title": "Sword of Honour", "Price": 12.99},
            {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99},
        ],
        "Bicycle": [
            {"Color": "red", "Price": 19.95, "IsNew": true},
            {"Color": "green", "Price": 20.01, "IsNew": false},
        ],
        "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
        "Employees": {"jason": "manager", "dan": "clerk"},
    })
}

#[test]
fn the_store() {
    let store = store();
    check(&json!(null), false, &[("hello jsonpath", Ok("hello jsonpath")), (r#"{"{"}"#, Ok("{"))]);
    check(&json!([1, 2, 3]), false, &[("{..}", Ok("[1,2,3]"))]);
    check(&json!([2, 6, 3, 7]), false, &[("{[?(@<5)]}", Ok("2 3"))]);
    check(&json!([0, 1, 2, 3, 4]), false, &[("{[1,3,4]}", Ok("1 3 4"))]);
    check(&json!(["Monday", "Tudesday"]), false, &[("{[0:2]}", Ok("Monday Tudesday"))]);
    check(
        &store,
        false,
        &[
            ("hello {.Name}", Ok("hello jsonpath")),
            ("{$.Labels.web/html}", Ok("15")),
            ("{$.Employees.jason}", Ok("manager")),
            ("{$.Employees.dan}", Ok("clerk")),
            ("{.Labels.k8s-app}", Ok("20")),
            ("{.Bicycle[*].Color}", Ok("red green")),
            ("{.Book[*].Author}", Ok("Nigel Rees Evelyn Waugh Herman Melville")),
            (r#"{range .Bicycle[*]}{ "{" }{ @.* }{ "} " }{end}"#, Ok("{red true 19.95} {green false 20.01} ")),
            // Go visits a map's keys in random order; serde_json's are sorted (Bicycle before Book).
            ("{..Price}", Ok("19.95 20.01 8.95 12.99 8.99")),
            ("{...Price}", Ok("19.95 20.01 8.95 12.99 8.99")),
            ("{............................................................Price}", Err("recursive descent")),
            (
                "{.Bicycle}",
                Ok(r#"[{"Color":"red","IsNew":true,"Price":19.95},{"Color":"green","IsNew":false,"Price":20.01}]"#),
            ),
            (
                r#"{range .Bicycle[*]}{ @ }{ " " }{end}"#,
                Ok(r#"{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01} "#),
            ),
            (
                "{.Book[-1:]}",
                Ok(r#"{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}"#),
            ),
            (
                "{..Book[2]}",
                Ok(r#"{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}"#),
            ),
            ("{.Bicycle[?(@.IsNew==true)]}", Ok(r#"{"Color":"red","IsNew":true,"Price":19.95}"#)),
            ("{.Book[?(@.Price<10)].Title}", Ok("Sayings of the Centurey Moby Dick")),
            ("{.Book[?(@.Price>=12.99)].Title}", Ok("Sword of Honour")),
            ("{.Book[?(@.Category!='fiction')].Author}", Ok("Nigel Rees")),
            // client-go's failures.
            ("{hello}", Err("unrecognized identifier hello")),
            ("{.hello}", Err("hello is not found")),
            ("{.Labels[0]}", Err("map[string]interface {} is not array or slice")),
            ("{.Book[?(@.Price<>10)]}", Err("unrecognized filter operator <>")),
            ("{range .Labels.*}{@}{end}{end}", Err("{end} without a {range}")),
            ("{.Book[?(@.Title<1)]}", Err("incompatible types for comparison")),
            ("{.Bicycle[?(@.IsNew<true)]}", Err("invalid type for comparison")),
            ("{.Book[?(@.Price<10)]..Price}", Ok("8.95 8.99")),
            ("{.Name[0]}", Err("string is not array or slice")),
            ("{.Name[?(@.x)]}", Err("jsonpath is not array or slice and cannot be filtered")),
        ],
    );
    // Missing keys allowed (kubectl's default).
    check(&store, true, &[("{.hello}", Ok("")), ("before-{.hello}after", Ok("before-after"))]);
}

#[test]
fn json_input() {
    let points = json!([
        {"id": "i1", "x": 4, "y": -5},
        {"id": "i2", "x": -2, "y": -5, "z": 1},
        {"id": "i3", "x": 8, "y": 3},
        {"id": "i4", "x": -6, "y": -1},
        {"id": "i5", "x": 0, "y": 2, "z": 1},
        {"id": "i6", "x": 1, "y": 4},
        {"id": "i7", "x": null, "y": 4},
    ]);
    check(
        &points,
        false,
        &[
            ("{[?(@.z)].id}", Ok("i2 i5")),
            ("{[0]['id']}", Ok("i1")),
            ("{[-1]['x']}", Ok("null")),
            // A null cannot be compared: client-go fails the whole template.
            ("{[?(@.x>0)].id}", Err("invalid type for comparison")),
            ("{[?(@.x==null)].id}", Err("unrecognized identifier null")),
        ],
    );
    let numbered = json!([{"id": "i1", "x": 4, "y": 4}, {"id": "i2", "x": -2.5, "y": 1}, {"id": "i3", "x": 8, "y": 3}]);
    check(
        &numbered,
        false,
        &[
            ("{[?(@.x>0)].id}", Ok("i1 i3")),
            ("{[?(@.x<=-2)].id}", Ok("i2")),
            ("{[?(@.x>-2.6)].id}", Ok("i1 i2 i3")),
            ("{[?(@.x==@.y)].id}", Ok("i1")),
            ("{[?(@.x!=4)].id}", Ok("i2 i3")),
        ],
    );
}

fn nodes() -> Value {
    json!({
        "kind": "List",
        "items": [
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
                "status": {
                    "capacity": {"cpu": "4"},
                    "ready": true,
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}],
                },
            },
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
                "status": {
                    "capacity": {"cpu": "8"},
                    "ready": false,
                    "addresses": [
                        {"type": "LegacyHostIP", "address": "127.0.0.2"},
                        {"type": "another", "address": "127.0.0.3"},
                    ],
                },
            },
        ],
        "users": [
            {"name": "myself", "user": {}},
            {"name": "e2e", "user": {"username": "admin", "password": "secret"}},
        ],
    })
}

#[test]
fn kubernetes_lists() {
    check(
        &nodes(),
        false,
        &[
            ("{range .items[*]}{.metadata.name}, {end}{.kind}", Ok("127.0.0.1, 127.0.0.2, List")),
            (r#"{range .items[*]}{.metadata.name}{"\t"}{end}"#, Ok("127.0.0.1\t127.0.0.2\t")),
            ("{.items[*].status.addresses[*].address}", Ok("127.0.0.1 127.0.0.2 127.0.0.3")),
            (
                "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
                Ok("127.0.0.1, 127.0.0.2, 127.0.0.3, "),
            ),
            ("{.items[*].metadata.name}", Ok("127.0.0.1 127.0.0.2")),
            ("{.items[*]['metadata.name', 'status.capacity']}", Ok(r#"127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}"#)),
            (
                "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
                Ok(r#"[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] "#),
            ),
            (r#"{.users[?(@.name=="e2e")].user.password}"#, Ok("secret")),
            (r"{.items[0].metadata.labels.kubernetes\.io/hostname}", Ok("127.0.0.1")),
            (r#"{.items[?(@.metadata.labels.kubernetes\.io/hostname=="127.0.0.1")].kind}"#, Ok("None")),
            ("{.items[?(@..ready==true)].metadata.name}", Ok("127.0.0.1")),
            ("{..name}", Ok("127.0.0.1 127.0.0.2 myself e2e")),
            ("{.items[0]}{\"\\n\"}", Ok(&format!("{}\n", nodes()["items"][0]))),
            ("{.items[2]}", Err("array index out of bounds: index 2, length 2")),
        ],
    );
}

#[test]
fn empty_and_nested_ranges() {
    let empty = json!({"items": []});
    check(
        &empty,
        true,
        &[
            ("{range .items[*]}{.metadata.name}{end}", Ok("")),
            (
                r#"{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}"#,
                Ok(""),
            ),
            ("{.items[*].metadata.name}", Ok("")),
        ],
    );
    check(&empty, false, &[("{.items[*].metadata.name}", Ok("")), ("{.items[0]}", Err("out of bounds"))]);

    let another = json!([{"name": "value1"}, {"name": "value2"}]);
    let pods = json!({"items": [
        {"metadata": {"name": "pod1"}, "spec": {"containers": [
            {"name": "foo", "another": another}, {"name": "bar", "another": another},
        ]}},
        {"metadata": {"name": "pod2"}, "spec": {"containers": [{"name": "baz", "another": another}]}},
    ]});
    check(
        &pods,
        false,
        &[
            (
                r#"{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}"#,
                Ok("pod1:foo,bar,+pod2:baz,+"),
            ),
            (
                concat!(
                    r#"{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}"#,
                    r##"{range @.another[*]}{.name}{","}{end}{"+"}{end}{"#"}{end}"##
                ),
                Ok("pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#"),
            ),
            (
                concat!(
                    r#"{range .items[*]}{.metadata.name}{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}"#,
                    r#"{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\n"}{end}"#
                ),
                Ok("pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n"),
            ),
        ],
    );
}

#[test]
fn filters_tolerate_missing_keys_only_when_allowed() {
    let pods = json!({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "pod1", "annotations": {"color": "blue"}}},
        {"kind": "Pod", "metadata": {"name": "pod2"}},
        {"kind": "Pod", "metadata": {"name": "pod3", "annotations": {"color": "green"}}},
        {"kind": "Pod", "metadata": {"name": "pod4", "annotations": {"color": "blue"}}},
    ]});
    let template = r#"{.items[?(@.metadata.annotations.color=="blue")].metadata.name}"#;
    check(&pods, true, &[(template, Ok("pod1 pod4"))]);
    check(&pods, false, &[(template, Err("annotations is not found"))]);

    let running = json!({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "pod1"}, "status": {"phase": "Running"}},
        {"kind": "Pod", "metadata": {"name": "pod2"}, "status": {"phase": "Running"}},
        {"kind": "Pod", "metadata": {"name": "pod3"}, "status": {"phase": "Running"}},
        {"resourceVersion": ""},
    ]});
    check(
        &running,
        true,
        &[(
            r#"{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\n"}{end}"#,
            Ok("pod1 is Running\npod2 is Running\npod3 is Running\n"),
        )],
    );
}

#[test]
fn negative_indexes_and_steps() {
    let names = |n: usize| (0..n).map(|i| json!({"name": format!("fake{i}")})).collect::<Vec<_>>();
    let four = json!({"spec": {"containers": names(4)}});
    check(
        &four,
        false,
        &[
            ("{.spec.containers[0].name}", Ok("fake0")),
            ("{.spec.containers[0:0].name}", Ok("")),
            ("{.spec.containers[0:-1].name}", Ok("fake0 fake1 fake2")),
            ("{.spec.containers[-1:0].name}", Err("starting index 3 is greater than ending index 0")),
            ("{.spec.containers[-1].name}", Ok("fake3")),
            ("{.spec.containers[-1:].name}", Ok("fake3")),
            ("{.spec.containers[-2].name}", Ok("fake2")),
            ("{.spec.containers[-2:].name}", Ok("fake2 fake3")),
            ("{.spec.containers[-4].name}", Ok("fake0")),
            ("{.spec.containers[-4:].name}", Ok("fake0 fake1 fake2 fake3")),
            ("{.spec.containers[-5].name}", Err("array index out of bounds: index -1, length 4")),
            ("{.spec.containers[5:5].name}", Ok("")),
            ("{.spec.containers[-5:-5].name}", Ok("")),
            ("{.spec.containers[3:1].name}", Err("starting index 3 is greater than ending index 1")),
            ("{.spec.containers[-1:-2].name}", Err("starting index 3 is greater than ending index 2")),
            // [i] is [i:i+1]: at the largest index that is empty, not an overflow.
            ("{.spec.containers[9223372036854775807].name}", Ok("")),
            ("{.spec.containers[-9223372036854775808].name}", Err("out of bounds")),
        ],
    );
    let six = json!({"spec": {"containers": names(6)}});
    check(
        &six,
        false,
        &[
            ("{.spec.containers[0:].name}", Ok("fake0 fake1 fake2 fake3 fake4 fake5")),
            ("{.spec.containers[0:6:].name}", Ok("fake0 fake1 fake2 fake3 fake4 fake5")),
            ("{.spec.containers[0:6:1].name}", Ok("fake0 fake1 fake2 fake3 fake4 fake5")),
            ("{.spec.containers[0:6:0].name}", Err("step must be > 0")),
            ("{.spec.containers[0:6:-1].name}", Err("step must be > 0")),
            ("{.spec.containers[1:4:2].name}", Ok("fake1 fake3")),
            ("{.spec.containers[1:4:3].name}", Ok("fake1")),
            ("{.spec.containers[1:4:4].name}", Ok("fake1")),
            ("{.spec.containers[0:6:2].name}", Ok("fake0 fake2 fake4")),
            ("{.spec.containers[0:6:3].name}", Ok("fake0 fake3")),
            ("{.spec.containers[0:6:5].name}", Ok("fake0 fake5")),
            ("{.spec.containers[0:6:6].name}", Ok("fake0")),
        ],
    );
}

#[test]
fn json_output_is_one_indented_array_per_action() {
    let template = Template::parse(r#"{.items[*].metadata.name}{"\n"}"#).unwrap();
    let out = template.render(&nodes(), Options { allow_missing_keys: true, as_json: true }).unwrap();
    assert_eq!(out, "[\n    \"127.0.0.1\",\n    \"127.0.0.2\"\n]\n[\n    \"\\n\"\n]\n");
}

#[test]
fn find_gives_each_value_for_columns_and_sorting() {
    let template = Template::relaxed("status.addresses[*].address").unwrap();
    let nodes = nodes();
    let found = template.find(&nodes["items"][1]).unwrap();
    assert_eq!(found.iter().map(|v| v.as_ref().clone()).collect::<Vec<_>>(), [json!("127.0.0.2"), json!("127.0.0.3")]);
    assert!(Template::relaxed(".nothing").unwrap().find(&nodes).unwrap().is_empty());
    assert_eq!(
        Template::relaxed(".items[5]").unwrap().find(&nodes),
        Err(EvalError::OutOfBounds { index: 5, length: 2 })
    );
}

#[test]
fn relaxed_expressions_are_kubectls() {
    for (expression, source) in [
        ("metadata.name", "{.metadata.name}"),
        (".metadata.name", "{.metadata.name}"),
        ("{metadata.name}", "{.metadata.name}"),
        ("{.metadata.name}", "{.metadata.name}"),
        ("..name", "{..name}"),
        (".", "{..}"),
        ("", ""),
    ] {
        assert_eq!(Template::relaxed(expression).unwrap().source(), source, "{expression}");
    }
    for bad in ["{.a", "a}", "{}", "{.a}{.b}"] {
        assert!(Template::relaxed(bad).is_err(), "{bad}");
    }
    let error = Template::relaxed("{.a[}").unwrap_err().to_string();
    assert_eq!(error, r#"error parsing jsonpath "{.a[}": unterminated array at column 4"#);
}

/// Whatever the template and the data, an answer or an error: never a panic.
#[test]
fn odd_templates_never_panic() {
    let data = nodes();
    for template in [
        "{",
        "}",
        "{{}}",
        "{[",
        "{[?(",
        "{[?(@.a==",
        "{['",
        "{\"",
        "{..",
        "{...}",
        "{.a..}",
        "{@}",
        "{$}",
        "{[]}",
        "{[:]}",
        "{[::]}",
        "{[1:2:3:4]}",
        "{[,]}",
        "{[ , ]}",
        "{range}",
        "{end}",
        "{range}{end}",
        "{.items[*].*.*}",
        "{..*}",
        "{.kind.*}",
        "{..[0]}",
        "{[?(@)]}",
        "{[?(@.x=~\"a\")]}",
        "{[?(@==)]}",
        "{[?(==1)]}",
        "{-}",
        "{+}",
        "{1.2.3}",
        "{9999999999999999999999}",
        "{'\\u{110000}'}",
        "{\"\\U00110000\"}",
        "{é}",
        "{.é}",
        "{\t}",
        "{[-9223372036854775808:]}",
        "{.items[-9223372036854775808:-9223372036854775808]}",
    ] {
        if let Ok(parsed) = Template::parse(template) {
            for allow_missing_keys in [true, false] {
                let _ = parsed.render(&data, Options { allow_missing_keys, as_json: false });
                let _ = parsed.render(&data, Options { allow_missing_keys, as_json: true });
                let _ = parsed.find(&data);
            }
        }
    }
}
