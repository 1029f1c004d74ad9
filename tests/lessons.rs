//! Lessons are data whose every claim is measured on the run: a wrong claim, a question with no
//! single right choice, an `until` never seen or a bad field each fail, naming where.

use dynamoscope::sim::lesson::play::LessonRun;
use dynamoscope::sim::lesson::{Lesson, MeasureValue};

fn lesson(steps: &str) -> String {
    format!(r#"{{ "title": "t", "scenario": {{ "seed": 2007, "duration_ms": 20000 }}, "steps": [{steps}] }}"#)
}

const PUT: &str = r#"{ "say": "put", "do": [ { "put": { "key": "cart:alice", "value": "book", "via": 2 } } ],
    "run": { "until": { "event": "replied", "within_ms": 2000 } } }"#;

fn play(text: &str) -> Vec<Vec<String>> {
    let lesson = Lesson::from_json(text).unwrap();
    let mut run = LessonRun::new(&lesson).unwrap();
    let steps: Vec<_> = lesson.steps.clone();
    steps.iter().map(|step| run.play_next().unwrap().failures(step)).collect()
}

/// §4.4: a put through a top-N node is stamped with that coordinator's counter, and every
/// replica stores it; the claims read the real store.
#[test]
fn claims_are_measured_on_the_run_and_a_wrong_one_fails_with_what_was_measured_section_4_4() {
    let text = lesson(&format!(
        r#"{PUT}, {{ "say": "look", "run": {{ "for_ms": 100 }}, "expect": [
            {{ "measure": {{ "stored_clocks": {{ "node": 3, "key": "cart:alice" }} }}, "equals": ["{{n2:1}}"] }},
            {{ "measure": {{ "stored_values": {{ "node": 4, "key": "cart:alice" }} }}, "equals": ["lamp"] }},
            {{ "measure": {{ "puts_acknowledged": {{ "key": "cart:alice" }} }}, "at_least": 1, "at_most": 1 }}
        ] }}"#
    ));
    let failures = play(&text);
    assert!(failures[0].is_empty(), "{failures:?}");
    assert_eq!(failures[1].len(), 1, "{failures:?}");
    assert!(
        failures[1][0].contains("the values n4 stores for cart:alice equals [\"lamp\"]: was [\"book\"]"),
        "{failures:?}"
    );
}

#[test]
fn a_question_needs_exactly_one_choice_equal_to_its_measured_answer() {
    let ask = |choices: &str| {
        lesson(&format!(
            r#"{{ "say": "put", "do": [ {{ "put": {{ "key": "k", "value": "v", "via": 2 }} }} ],
                "run": {{ "for_ms": 500 }}, "ask": {{ "text": "How many puts were acknowledged?",
                "choices": {choices}, "answer": {{ "puts_acknowledged": {{ "key": "k" }} }}, "why": "one put" }} }}"#
        ))
    };
    assert!(play(&ask(r#"["0", "1", "2"]"#))[0].is_empty());
    let failures = play(&ask(r#"["0", "2"]"#));
    assert!(
        failures[0][0].contains("the measured answer \"1\" is not exactly one of the choices"),
        "{failures:?}"
    );
}

#[test]
fn an_until_never_observed_fails_the_step() {
    let text =
        lesson(r#"{ "say": "wait", "run": { "until": { "event": "hint_delivered", "within_ms": 300 } } }"#);
    let failures = play(&text);
    assert_eq!(failures[0], vec!["HintDelivered was not observed within 300 ms".to_string()]);
}

#[test]
fn a_bad_lesson_is_refused_naming_the_field() {
    let cases = [
        (lesson(r#"{ "say": "", "run": { "for_ms": 5 } }"#), "steps[0].say"),
        (lesson(r#"{ "say": "a", "run": { "for_ms": 0 } }"#), "steps[0].run"),
        (lesson(r#"{ "say": "a", "run": { "for_ms": 5 }, "show": { "tab": "ring" } }"#), "steps[0].show.tab"),
        (
            lesson(r#"{ "say": "a", "run": { "for_ms": 5 }, "do": [ { "crash": "two" } ] }"#),
            "steps[0].do[0].crash",
        ),
        (lesson(r#"{ "say": "a", "run": { "for_ms": 50000 } }"#), "scenario.duration_ms"),
        (
            lesson(r#"{ "say": "a", "run": { "for_ms": 5 }, "expect": [ { "measure": "keys_repaired" } ] }"#),
            "steps[0].expect[0]",
        ),
    ];
    for (text, path) in cases {
        let failure = Lesson::from_json(&text).unwrap_err();
        assert_eq!(failure.path, path, "{failure}");
    }
}

#[test]
fn lists_of_values_compare_as_sets_and_a_preference_list_in_order_section_4_3() {
    let claim = |equals: &str| {
        lesson(&format!(
            r#"{PUT}, {{ "say": "look", "run": {{ "for_ms": 10 }}, "expect": [
                {{ "measure": {{ "preference_list": {{ "node": 1, "key": "cart:alice" }} }}, "equals": {equals} }} ] }}"#
        ))
    };
    assert!(play(&claim(r#"["n2", "n3", "n4"]"#))[1].is_empty());
    assert_eq!(play(&claim(r#"["n4", "n3", "n2"]"#))[1].len(), 1, "the top N is ordered");
    assert_eq!(MeasureValue::Texts(vec!["D3".into(), "D4".into()]).text(), "D3, D4");
}

/// The lesson menu lists every lesson once, in the lecture's order (by first slide).
#[test]
fn the_lesson_index_lists_every_lesson_in_lecture_order() {
    let folder = format!("{}/static/lessons", env!("CARGO_MANIFEST_DIR"));
    let index: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(format!("{folder}/index.json")).unwrap()).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .filter(|id| id != "index")
        .collect();
    let mut listed = index.clone();
    listed.sort();
    files.sort();
    assert_eq!(listed, files);
    let first_slides: Vec<u32> = index
        .iter()
        .map(|id| {
            let lesson =
                Lesson::from_json(&std::fs::read_to_string(format!("{folder}/{id}.json")).unwrap()).unwrap();
            lesson.slides.iter().copied().min().unwrap_or(u32::MAX)
        })
        .collect();
    assert!(first_slides.windows(2).all(|pair| pair[0] <= pair[1]), "{index:?}: {first_slides:?}");
}

/// A step that runs until its put is answered stops right after the instant that answered it,
/// not a millisecond later and not at its bound: the page steps by the same rule
/// (`next_stop_ms`), so both judge the same state.
#[test]
fn an_until_step_stops_at_the_instant_that_showed_its_event() {
    use dynamoscope::sim::trace::TraceEvent;
    let lesson = Lesson::from_json(&lesson(PUT)).unwrap();
    let mut run = LessonRun::new(&lesson).unwrap();
    let put = run.play_next().unwrap();
    assert!(put.observed);
    let trace = run.simulation().fabric().trace();
    let replied_at: Vec<u64> = (put.from_event..put.to_event)
        .filter_map(|index| trace.event(index as usize))
        .filter_map(|event| match event {
            TraceEvent::ClientReplied { at_ms, .. } => Some(at_ms),
            _ => None,
        })
        .collect();
    assert_eq!(replied_at.len(), 1, "one reply within the step");
    assert_eq!(put.to_ms, replied_at[0], "the step ends in the instant of the reply");
    assert!(put.to_ms < put.from_ms + 2000, "well before its bound");
}
