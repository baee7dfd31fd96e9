//! Retrieval over the demo knowledge finds the right document.

use warden::eval::{gold_rank, load_questions};
use warden::index::VectorIndex;

use crate::common::{demo_retriever, embedder, knowledge_dir};

#[test]
fn gold_document_is_in_the_top_5_for_at_least_90_percent_of_answerable_questions() {
    let retriever = demo_retriever();
    let questions = load_questions(&knowledge_dir().join("eval/qa.jsonl")).unwrap();
    let answerable: Vec<_> = questions.iter().filter(|q| q.answerable).collect();
    assert!(
        answerable.len() >= 55,
        "the eval set shrank to {}",
        answerable.len()
    );
    let mut misses = Vec::new();
    let mut hits = 0;
    for question in &answerable {
        // Chunks, not documents, are retrieved: look at enough of them to see 5 documents.
        match gold_rank(retriever, question, 12).unwrap() {
            Some(rank) if rank <= 5 => hits += 1,
            _ => misses.push(question.id.clone()),
        }
    }
    let recall = hits as f64 / answerable.len() as f64;
    println!(
        "gold document in top 5: {hits}/{} = {recall:.3}; misses {misses:?}",
        answerable.len()
    );
    assert!(
        recall >= 0.90,
        "recall@5 {recall:.3} below 0.90; misses {misses:?}"
    );
}

#[test]
fn embeddings_are_unit_length_and_rank_paraphrases_above_unrelated_text() {
    let embedder = embedder();
    let vectors = embedder
        .embed_all(
            &[
                "How much paid holiday do employees get?",
                "Every employee receives 28 days of annual leave.",
                "Restart the primary database after a failover.",
            ],
            |_| {},
        )
        .unwrap();
    for vector in &vectors {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        assert_eq!(vector.len(), 384);
    }
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]) + 0.2);
}

#[test]
fn batched_embeddings_match_one_at_a_time() {
    let embedder = embedder();
    let texts = [
        "short",
        "a somewhat longer sentence about travel expenses and hotels",
    ];
    let batched = embedder.embed_all(&texts, |_| {}).unwrap();
    for (text, batched) in texts.iter().zip(&batched) {
        let single = embedder.embed(text).unwrap();
        let max_diff = single
            .iter()
            .zip(batched)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 1e-4,
            "padding changed the embedding of {text:?} by {max_diff}"
        );
    }
}

#[test]
fn vector_index_finds_exact_neighbours_and_rejects_wrong_dimensions() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let vectors: Vec<Vec<f32>> = (0..200)
        .map(|_| {
            let v: Vec<f32> = (0..16).map(|_| next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect();
    let index = VectorIndex::new(16, 8).unwrap();
    for (i, v) in vectors.iter().enumerate() {
        index.add(i as u64 + 1000, v).unwrap();
    }
    assert_eq!(index.len(), 200);
    let found = index.search(&vectors[42], 1).unwrap();
    assert_eq!(found[0].key, 1042);
    assert!((found[0].similarity - 1.0).abs() < 1e-4);
    assert!(index.add(7, &[0.0; 3]).is_err());

    // Serialised and read back (as the store keeps it), it answers the same;
    // removed keys are gone; bytes of another size are refused.
    let restored = VectorIndex::from_bytes(16, &index.to_bytes().unwrap()).unwrap();
    assert_eq!(restored.search(&vectors[42], 1).unwrap()[0].key, 1042);
    restored.remove(1042).unwrap();
    assert_ne!(restored.search(&vectors[42], 1).unwrap()[0].key, 1042);
    assert!(VectorIndex::from_bytes(32, &index.to_bytes().unwrap()).is_none());
}

#[test]
fn embeddings_match_sentence_transformers_reference_vectors() {
    #[derive(serde::Deserialize)]
    struct Reference {
        sentences: Vec<String>,
        embeddings: Vec<Vec<f32>>,
    }
    let path = crate::common::repo().join("benches/peers/results/minilm-reference-embeddings.json");
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(reference.sentences.len() >= 8);
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let ours = embedder().embed_all(&texts, |_| {}).unwrap();
    for ((text, ours), theirs) in texts.iter().zip(&ours).zip(&reference.embeddings) {
        let cosine: f32 = ours.iter().zip(theirs).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.9999, "cosine {cosine} for {text:?}");
    }
}
