//! Migrations are embedded with `include_str!`; cargo does not notice a new or changed file
//! in that folder by itself, so a binary could ship without its newest migration.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
