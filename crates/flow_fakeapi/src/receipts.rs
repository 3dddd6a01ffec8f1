//! The write side's ledger: what every write did to each collection, so a test can tell effects
//! from no-ops and assert "zero duplicate effects" after crashes and resumes.
//!
//! A write with an `Idempotency-Key` seen before in its collection is **replayed**: answered
//! again, no second effect. Every other write is **applied** (stored). An applied write whose
//! record — its body, compared as JSON, so key order and spacing do not matter — was applied to
//! the same collection before is a **duplicate effect**: the receiver now holds the same record
//! twice. With keys honoured, re-sent records are replays and duplicates stay at zero; without
//! keys, duplicates count exactly the records that were sent again.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

/// The writes one collection received ([`crate::FakeApi::receipts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Receipts {
    /// Writes stored (effects).
    pub applied: u64,
    /// Writes whose idempotency key had been seen: answered again, stored nothing.
    pub replayed: u64,
    /// Applied writes of a record already applied before: effects that happened twice (or more).
    pub duplicates: u64,
    /// Different records applied.
    pub distinct: u64,
    /// Applied writes that carried an idempotency key.
    pub keyed: u64,
}

impl Receipts {
    /// Every applied write was a different record.
    pub fn no_duplicate_effects(&self) -> bool {
        self.duplicates == 0
    }
}

/// How often one record was applied, and under which keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The record, as it was first written.
    pub record: Value,
    pub times: u64,
    /// The idempotency keys it was applied under, in order (none for writes without a key).
    pub keys: Vec<String>,
}

/// Per collection: its counts and every record applied, by its canonical JSON text.
#[derive(Default)]
pub(crate) struct Ledger {
    collections: HashMap<String, Collection>,
}

#[derive(Default)]
struct Collection {
    counts: Receipts,
    records: HashMap<String, Applied>,
    /// Replays per key.
    replays: HashMap<String, u64>,
}

/// A record's identity: its JSON text with object keys sorted (serde_json's map is ordered), so
/// the same record written with its fields in another order is the same record.
fn identity(record: &Value) -> String {
    record.to_string()
}

impl Ledger {
    /// Counts a write that was stored.
    pub(crate) fn applied(&mut self, collection: &str, record: &Value, key: Option<&str>) {
        let c = self.collections.entry(collection.to_string()).or_default();
        c.counts.applied += 1;
        if key.is_some() {
            c.counts.keyed += 1;
        }
        let entry = c
            .records
            .entry(identity(record))
            .or_insert_with(|| Applied { record: record.clone(), ..Applied::default() });
        entry.times += 1;
        entry.keys.extend(key.map(str::to_string));
        if entry.times == 1 {
            c.counts.distinct += 1;
        } else {
            c.counts.duplicates += 1;
        }
    }

    /// Counts a write answered again for a key seen before.
    pub(crate) fn replayed(&mut self, collection: &str, key: &str) {
        let c = self.collections.entry(collection.to_string()).or_default();
        c.counts.replayed += 1;
        *c.replays.entry(key.to_string()).or_insert(0) += 1;
    }

    pub(crate) fn receipts(&self, collection: &str) -> Receipts {
        self.collections.get(collection).map(|c| c.counts).unwrap_or_default()
    }

    /// The records applied more than once, in no particular order.
    pub(crate) fn duplicated(&self, collection: &str) -> Vec<Applied> {
        let Some(c) = self.collections.get(collection) else { return Vec::new() };
        c.records.values().filter(|a| a.times > 1).cloned().collect()
    }

    /// How many times a key's write was answered again without an effect.
    pub(crate) fn replays_of(&self, collection: &str, key: &str) -> u64 {
        self.collections.get(collection).and_then(|c| c.replays.get(key)).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replays_are_not_effects_and_a_record_applied_twice_is_a_duplicate() {
        let mut l = Ledger::default();
        l.applied("contacts", &json!({"id": 1, "name": "a"}), Some("k1"));
        l.replayed("contacts", "k1");
        l.replayed("contacts", "k1");
        assert_eq!(l.receipts("contacts"), Receipts { applied: 1, replayed: 2, duplicates: 0, distinct: 1, keyed: 1 });
        assert!(l.receipts("contacts").no_duplicate_effects());
        assert_eq!(l.replays_of("contacts", "k1"), 2);
        // The same record without a key, its fields in another order: a second effect.
        let again: Value = serde_json::from_str(r#"{"name": "a", "id": 1}"#).unwrap_or_default();
        l.applied("contacts", &again, None);
        // Another version of the record is another record.
        l.applied("contacts", &json!({"id": 1, "name": "b"}), None);
        let r = l.receipts("contacts");
        assert_eq!((r.applied, r.duplicates, r.distinct, r.keyed), (3, 1, 2, 1));
        assert!(!r.no_duplicate_effects());
        let dup = l.duplicated("contacts");
        assert_eq!(dup.len(), 1);
        assert_eq!((dup[0].times, dup[0].keys.clone()), (2, vec!["k1".to_string()]));
        // Collections are counted apart.
        assert_eq!(l.receipts("messages"), Receipts::default());
    }
}
