//! Property tests: encryption round trips and rejects any change; chunk
//! offsets always point at the chunk's text; access label filters never widen.

use proptest::prelude::*;
use warden::crypto::SecretKey;
use warden::guard::scan::{GuardPolicy, Scanners, Stage};
use warden::ingest::{chunk, ChunkSettings};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sealing_round_trips_and_any_flipped_bit_is_rejected(
        key in any::<[u8; 32]>(),
        associated in proptest::collection::vec(any::<u8>(), 0..64),
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        flip in any::<usize>(),
        bit in 0u8..8,
    ) {
        let key = SecretKey::from_bytes(key);
        let sealed = key.seal(&associated, &plaintext).unwrap();
        prop_assert_eq!(key.open(&associated, &sealed).unwrap(), plaintext.clone());
        let mut damaged = sealed.clone();
        let at = flip % damaged.len();
        damaged[at] ^= 1 << bit;
        prop_assert!(key.open(&associated, &damaged).is_err());
        let mut other_ad = associated.clone();
        other_ad.push(0);
        prop_assert!(key.open(&other_ad, &sealed).is_err());
    }

    #[test]
    fn scanners_never_panic_and_redaction_keeps_valid_text(
        text in "(\\PC|[0-9 @.:+()/-]|é|ü|İ|\u{200B}|AKIA|4111 1111 1111 1111|https://x.example/?q=1){0,80}",
    ) {
        let scanners = Scanners::new(GuardPolicy::default());
        for stage in [Stage::Input, Stage::Retrieval, Stage::Output] {
            let outcome = scanners.scan(stage, &text, None);
            for flag in &outcome.flags {
                prop_assert!(flag.start <= flag.end && flag.end <= text.len());
                prop_assert!(text.is_char_boundary(flag.start) && text.is_char_boundary(flag.end));
            }
        }
    }

    #[test]
    fn chunk_offsets_always_point_at_the_chunk_text(
        blocks in proptest::collection::vec(
            prop_oneof![
                "# [A-Za-zé ]{1,30}",
                "[A-Za-z0-9ßü€,.;:!? ]{1,400}",
                "- [a-z ]{1,60}",
                "\\| [a-z]{1,8} \\| [0-9]{1,4} \\|",
            ],
            1..30,
        ),
        min in 20usize..200,
        extra in 0usize..400,
    ) {
        let text = blocks.join("\n\n");
        let settings = ChunkSettings { min_chars: min, max_chars: min + extra };
        let mut previous_end = 0;
        for span in chunk::split(&text, &settings) {
            prop_assert_eq!(&text[span.start..span.end], span.text.as_str());
            prop_assert!(span.start >= previous_end);
            prop_assert!(!span.text.trim().is_empty());
            previous_end = span.end;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Access filters never widen: holding fewer labels never admits more
    /// documents, adding a label to a document never makes it more visible,
    /// and a document is admitted only when every access label is held.
    #[test]
    fn label_scopes_never_widen(
        held in proptest::collection::btree_set("[a-d]", 0..4),
        dropped in "[a-d]",
        labels in proptest::collection::vec("[a-e]|no-verbatim", 0..4),
        extra in "[a-e]",
    ) {
        use warden::auth::LabelScope;
        let scope = LabelScope::Only(held.clone());
        let mut fewer = held.clone();
        fewer.remove(&dropped);
        let narrower = LabelScope::Only(fewer);
        if narrower.admits(&labels) {
            prop_assert!(scope.admits(&labels));
        }
        let mut more_labels = labels.clone();
        more_labels.push(extra);
        if scope.admits(&more_labels) {
            prop_assert!(scope.admits(&labels));
        }
        let every_label_held = labels
            .iter()
            .all(|label| label == "no-verbatim" || held.contains(label));
        prop_assert_eq!(scope.admits(&labels), every_label_held);
        prop_assert!(LabelScope::All.admits(&labels));
    }
}
