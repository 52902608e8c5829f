//! Prints the Rust bindings' layout; CTest compares it with test/abi_layout.c's (the C header's).
fn main() {
    print!("{}", plexus_loyalty::abi::layout());
}
