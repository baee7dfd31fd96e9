//! The citation verifier on real data: the labelled pair sets, `warden verify`
//! over stdin, and the read path under the strict policy with a real model.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use warden::eval::verification::{evaluate_verifier, load_pairs};
use warden::guard::{CitationPolicy, CitationVerifier, Verdict, VerifierSettings};

use crate::common::{embedder, knowledge_dir, models_dir, small_pipeline, SMOLLM2};

fn verifier() -> CitationVerifier {
    let vectors = Arc::new(embedder().word_vectors().unwrap());
    CitationVerifier::new(VerifierSettings::default(), Some(vectors))
}

#[test]
fn verifier_beats_the_embedding_baseline_on_the_labelled_pairs() {
    let parts: Vec<(String, _)> = ["verification-a", "verification-b"]
        .iter()
        .map(|name| {
            let path = knowledge_dir().join("eval").join(format!("{name}.jsonl"));
            (name.to_string(), load_pairs(&path).unwrap())
        })
        .collect();
    let pairs: usize = parts.iter().map(|(_, pairs)| pairs.len()).sum();
    assert!(pairs >= 300, "only {pairs} labelled pairs");
    let report = evaluate_verifier(&verifier(), &embedder(), &parts).unwrap();
    let held_out = &report.parts[1];
    let all = &report.parts[2];
    for part in [held_out, all] {
        let verifier = part.verifier.balanced_accuracy();
        let baseline = part.baseline.balanced_accuracy();
        println!(
            "{}: verifier {verifier:.3}, baseline {baseline:.3}",
            part.part
        );
        // Measured 0.846 held out, 0.878 overall (baseline 0.577 / 0.593);
        // the goal is 0.85 on the whole set. The verifier is deterministic.
        let floor = if part.part == "all" { 0.85 } else { 0.84 };
        assert!(
            verifier >= floor,
            "{}: balanced accuracy {verifier:.3}",
            part.part
        );
        assert!(
            verifier >= baseline + 0.2,
            "{}: verifier {verifier:.3} vs baseline {baseline:.3}",
            part.part
        );
    }
    // The hard negatives each check exists for are caught most of the time.
    // Measured: 0.85, 1.00, 0.91, 0.83.
    for (kind, floor) in [
        ("changed_number", 0.8),
        ("wrong_source", 0.95),
        ("unsupported_addition", 0.85),
        ("antonym", 0.8),
    ] {
        let scores = &report.by_kind[kind];
        assert!(
            scores.accuracy() >= floor,
            "{kind}: {:.3}",
            scores.accuracy()
        );
    }
}

#[test]
fn verifier_pins_support_to_a_span_of_the_cited_source() {
    let leave = "## 5. Carry-over\n\n- You may carry over a maximum of **5 days** of unused \
        annual leave into the following leave year.\n- Carried-over days must be taken by \
        **31 March** of the following year.";
    let vpn = "Connect through the company VPN whenever you are not on the office network.";
    let sources = [
        warden::guard::SourceText::new("VPN Setup Guide", vpn),
        warden::guard::SourceText::new("Annual Leave Policy", leave),
    ];
    let verification = verifier().verify(
        "According to [2], you can carry over up to five unused days. \
         They must be used by 31 March [1]. Unused days are paid out in cash at the end of \
         the year [2].",
        &sources,
    );
    let verdicts: Vec<Verdict> = verification.sentences.iter().map(|s| s.verdict).collect();
    assert_eq!(
        verdicts,
        vec![
            Verdict::Supported,
            Verdict::WrongCitation,
            Verdict::Unsupported
        ],
        "{verification:#?}"
    );
    let support = verification.sentences[0].support.as_ref().unwrap();
    assert_eq!(support.source, 1);
    assert!(leave[support.start..support.end].contains("maximum of **5 days**"));
    assert_eq!(
        verification.sentences[1].support.as_ref().unwrap().source,
        1
    );
}

#[test]
fn warden_verify_reads_json_lines_and_reports_bad_lines_without_stopping() {
    let input = [
        r#"{"answer": "According to [1], staff get 28 days of paid leave. The office has a rooftop gym [1].", "sources": [{"id": "leave", "text": "Every employee receives 28 working days of paid annual leave."}]}"#,
        "this is not json",
        r#"{"answer": "x", "sources": [{"id": "a"}]}"#,
        "",
        r#"{"answer": "I could not find this in the knowledge base.", "sources": []}"#,
        // The same passage read with and without the heading above it.
        r###"{"answer": "According to [1], the Leeds office opens at 08:00.", "sources": [{"id": "hours", "text": "The office opens at 08:00 on working days.", "section": ["# Offices", "## Leeds"]}]}"###,
        r#"{"answer": "According to [1], the Leeds office opens at 08:00.", "sources": [{"id": "hours", "text": "The office opens at 08:00 on working days."}]}"#,
    ]
    .join("\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--threads", "1", "verify"])
        .env("WARDEN_MODELS_DIR", models_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:#?}");

    let first = &lines[0];
    assert_eq!(first["line"], 1);
    assert_eq!(first["sentences"][0]["verdict"], "supported");
    assert_eq!(first["sentences"][0]["support"]["source_id"], "leave");
    assert_eq!(first["sentences"][1]["verdict"], "unsupported");
    assert_eq!(first["all_grounded"], false);

    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid request"));
    assert_eq!(lines[2]["line"], 3);
    assert!(lines[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing field `text`"));
    assert_eq!(lines[3]["line"], 5);
    assert_eq!(lines[3]["sentences"][0]["verdict"], "no_claim");
    assert_eq!(lines[3]["all_grounded"], true);
    assert_eq!(
        lines[4]["sentences"][0]["verdict"], "supported",
        "{}",
        lines[4]
    );
    assert_eq!(
        lines[5]["sentences"][0]["verdict"], "unsupported",
        "{}",
        lines[5]
    );
}

#[test]
fn strict_policy_shows_only_verified_sentences_from_a_real_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = small_pipeline(dir.path(), SMOLLM2);
    assert_eq!(pipeline.settings.grounding.policy, CitationPolicy::Strict);
    for question in [
        "How many days of paid annual leave does a full-time employee get per year?",
        "Who must approve a change to a supplier's bank details?",
        "How many weeks of paid sabbatical do employees get after 10 years of service?",
    ] {
        let answer = pipeline.ask(question, &mut |_| {}).unwrap();
        let sources: Vec<_> = answer
            .sources
            .iter()
            .map(|s| warden::guard::SourceText::new(&s.title, &s.text))
            .collect();
        let shown = pipeline.verifier.verify(&answer.answer, &sources);
        assert!(
            shown.all_grounded(),
            "{question}: shown text has unsupported claims: {:?}\ndraft: {:?}",
            answer.answer,
            answer.draft
        );
        if answer
            .verification
            .as_ref()
            .is_some_and(|v| !v.all_grounded())
        {
            assert!(
                answer.outcome.is_refusal(),
                "{question}: {:?}",
                answer.outcome
            );
            assert!(answer.flagged_for_review);
        }
    }
}

#[test]
fn a_tenant_may_set_its_own_citation_policy() {
    use warden::guard::scan::{GuardPolicy, Scanners};
    use warden::guard::Outcome;

    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = small_pipeline(dir.path(), SMOLLM2);
    let question = "How many weeks of paid sabbatical do employees get after 10 years of service?";
    // Configured strict: SmolLM2's invented draft is withheld.
    let strict = pipeline.ask(question, &mut |_| {}).unwrap();
    assert!(
        strict
            .verification
            .as_ref()
            .is_some_and(|v| !v.all_grounded()),
        "the draft was expected to fail verification: {:?}",
        strict.draft
    );
    assert!(strict.outcome.is_refusal(), "{:?}", strict.outcome);

    // Another tenant's setting does not apply; this tenant's does.
    let tenant = pipeline.retriever.catalog().tenant.clone();
    let policy = |name: &str| -> GuardPolicy {
        toml::from_str(&format!(
            "[tenants.{name}]\ncitation_policy = \"annotate\"\n"
        ))
        .unwrap()
    };
    pipeline.guard = Arc::new(Scanners::new(policy("someone-else")));
    assert_eq!(pipeline.citation_policy(), CitationPolicy::Strict);
    pipeline.guard = Arc::new(Scanners::new(policy(&tenant)));
    assert_eq!(pipeline.citation_policy(), CitationPolicy::Annotate);
    let annotated = pipeline.ask(question, &mut |_| {}).unwrap();
    assert_eq!(annotated.draft, strict.draft);
    assert_eq!(
        annotated.outcome,
        Outcome::Annotated,
        "{}",
        annotated.answer
    );
    assert!(
        annotated.answer.contains("[unverified"),
        "{}",
        annotated.answer
    );
}
