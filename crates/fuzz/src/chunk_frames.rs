//! Bodies of many chunks (`nubo_protocol::frames`), from either side: a
//! client's upload to the service, the service's answer to a fetch. Any bytes
//! decode to chunks inside the body or to an error, never a panic; what
//! decodes encodes back to the very same bytes.

use nubo_protocol::frames;

pub fn check(data: &[u8]) {
    let Ok(parts) = frames::decode(data) else {
        return;
    };
    let mut at = 0;
    for (name, range) in &parts {
        assert_eq!(name.len(), frames::NAME_LEN);
        assert!(range.start >= at && range.start <= range.end && range.end <= data.len());
        at = range.end;
    }
    let again = frames::encode(
        parts
            .iter()
            .map(|(name, range)| (name.as_str(), &data[range.clone()])),
    );
    assert_eq!(again, data, "decoding and encoding again changed the body");
}
