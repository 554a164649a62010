//! The `netc` command: a thin shell over the library's `cli` module.
fn main() {
    println!("netc");
}
