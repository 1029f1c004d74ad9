//! Share links: a scenario's JSON in URL-safe base64 without padding (RFC 4648 §5) after
//! `#run=`. The page reads and writes them (`web/src/runtime/link.rs`, with JavaScript's own
//! JSON), and `dynamoscope explore` writes one for its counterexample.

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u32, |word, (index, byte)| word | u32::from(*byte) << (16 - 8 * index));
        for sextet in 0..=chunk.len() {
            text.push(BASE64_ALPHABET[(word >> (18 - 6 * sextet) & 63) as usize] as char);
        }
    }
    text
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut word, mut bits) = (0u32, 0u32);
    for character in text.bytes() {
        let value =
            BASE64_ALPHABET.iter().position(|candidate| *candidate == character).ok_or_else(|| {
                format!("the link's run has a character that is not base64: {:?}", character as char)
            })?;
        word = word << 6 | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((word >> bits) as u8);
        }
    }
    Ok(bytes)
}

/// The part of the page's address after `#run=` that replays `scenario`.
pub fn fragment(scenario: &super::scenario::Scenario) -> String {
    let text = serde_json::to_string(scenario).expect("scenarios serialize");
    base64_encode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for length in 0..8 {
            let bytes: Vec<u8> = (0..length).map(|index| (index * 97 + 200) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)), Ok(bytes));
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert!(base64_decode("%7B").unwrap_err().contains("not base64"));
        assert_eq!(base64_decode("TWFu"), Ok(b"Man".to_vec()));
    }
}
