//! `early.js` (the page script that makes the embed before the wasm loads) against the Rust
//! values it shares.

use crate::video::PLAYER_VARS;

#[test]
fn the_page_script_makes_its_embed_with_the_apps_player_variables() {
    let vars: Vec<String> = PLAYER_VARS
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let literal = format!(
        "var vars = {{ {}, origin: location.origin }};",
        vars.join(", ")
    );
    assert!(
        include_str!("early.js").contains(&literal),
        "early.js does not make its embed with `{literal}`"
    );
}
