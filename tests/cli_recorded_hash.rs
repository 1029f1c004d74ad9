//! `dynamoscope run` checks a file's recorded trace hash: a golden run or a page export that
//! plays differently is an error, and flags that change the run drop the recorded hash.

use std::process::Command;

fn run(arguments: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dynamoscope")).args(arguments).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

fn golden() -> String {
    format!("{}/static/scenarios/golden-faults.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_file_that_plays_to_its_recorded_hash_passes() {
    let (code, text) = run(&["run", &golden()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("trace hash a9b7767d19523268"), "{text}");
}

#[test]
fn a_file_whose_run_differs_from_its_recorded_hash_fails_saying_both() {
    let tampered = std::fs::read_to_string(golden()).unwrap().replace("a9b7767d19523268", "00000000000000ff");
    let path = std::env::temp_dir().join(format!("dynamoscope-tampered-{}.json", std::process::id()));
    std::fs::write(&path, tampered).unwrap();
    let (code, text) = run(&["run", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("a9b7767d19523268 differs from the 00000000000000ff the file recorded"), "{text}");
}

#[test]
fn flags_that_change_the_run_drop_the_recorded_hash() {
    let (code, text) = run(&["run", &golden(), "--seed", "9"]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("a9b7767d19523268"), "another seed, another run: {text}");
}
