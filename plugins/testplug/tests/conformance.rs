use flowlab_abi::ErrorKind;
use flowlab_abi::host::NullHost;
use flowlab_conformance::{Case, check, load};
use serde_json::json;

#[test]
fn testplug_conforms() {
    check("testplug", &[Case::new("probe", json!({"draws": 5, "value": 3})), Case::new("noop", json!({}))]);
}

#[test]
fn panic_becomes_error_and_process_survives() {
    let p = load("testplug");
    let dir = tempfile::tempdir().unwrap();
    let mut req = flowlab_abi::plugin::request("probe", json!({"panic_on": 1, "value": 1}), dir.path().to_str().unwrap());
    let e = p.run(&req, &NullHost).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Panic);
    assert!(e.message.contains("told to panic"), "{}", e.message);
    req.settings = json!({"value": 2, "draws": 3});
    let ok = p.run(&req, &NullHost).unwrap();
    assert_eq!(ok.iterations, 3);
    // NaN survives the boundary explicitly
    assert_eq!(ok.metrics["nan"], json!("NaN"));
}
