//! Rebuilds the crate when a file under `locales/` changes: `leptos_i18n::load_locales!` reads
//! them at compile time but does not tell Cargo, so an edited translation would otherwise keep
//! the old words until something else changed (a clean build, as in CI, always reads them).

fn main() {
    println!("cargo:rerun-if-changed=locales");
    println!("cargo:rerun-if-changed=Cargo.toml");
}
