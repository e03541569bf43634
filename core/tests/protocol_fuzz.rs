//! Property/fuzz tests of the WebSocket decoder (issue 11): arbitrary text, arbitrary JSON
//! shapes and mutated valid messages never panic, and whatever decodes re-encodes to a message
//! that decodes to the same value.

use proptest::prelude::*;
use watchparty_core::protocol::ClientMsg;

fn round_trips(m: &ClientMsg) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(m).map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Non-finite numbers serialise as `null` and are then refused; everything else round-trips.
    if let Ok(back) = serde_json::from_str::<ClientMsg>(&text) {
        prop_assert_eq!(
            back.command().map(|c| (c.0, c.1)),
            m.command().map(|c| (c.0, c.1))
        );
    }
    Ok(())
}

/// Valid messages whose fields are then replaced by arbitrary JSON values.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,14}", inner, 0..5)
                .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        if let Ok(m) = serde_json::from_str::<ClientMsg>(&text) {
            round_trips(&m)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = serde_json::from_slice::<ClientMsg>(&bytes) {
            round_trips(&m)?;
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        ty in prop_oneof![
            proptest::sample::select(vec!["ping", "play", "pause", "seek", "rate", "duration"])
                .prop_map(String::from),
            ".{0,10}",
        ],
        fields in proptest::collection::btree_map(
            prop_oneof![Just("seq".to_string()), Just("base_revision".to_string()),
                        Just("position".to_string()), Just("rate".to_string()),
                        Just("seconds".to_string()), Just("t0".to_string()), "[a-z]{1,8}"],
            json_value(), 0..5),
    ) {
        let mut obj: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        obj.insert("type".into(), serde_json::Value::from(ty));
        let text = serde_json::Value::Object(obj).to_string();
        if let Ok(m) = serde_json::from_str::<ClientMsg>(&text) {
            round_trips(&m)?;
        }
    }
}
