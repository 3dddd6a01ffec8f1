//! Spare array items kept from one record to the next of a stream (`flowc map`): when an
//! array is shorter than in the record before, the items past its end are kept here instead of
//! dropped, and when a later array is longer, its new items are taken from here instead of
//! allocated afresh, with the strings, arrays and objects they hold, as items decoded in place
//! are. Kept apart by the item type they were decoded as (so a line item's object is reused for
//! a line item, not for a tag), and bounded, so memory stays flat.

use crate::{Type, Value};

/// How many spare items are kept for each item type at most.
const MAX_SPARE: usize = 256;

#[derive(Default)]
pub(crate) struct Spares {
    /// Each item type of the stream's declared type (by its place in the plan, which holds it
    /// for the whole stream), and its spare items.
    by_type: Vec<(*const Type, Vec<Value>)>,
}

impl Spares {
    /// A spare item decoded before as `ty`, or null.
    #[inline]
    pub(crate) fn take(&mut self, ty: &Type) -> Value {
        match self.by_type.iter_mut().find(|(t, _)| std::ptr::eq(*t, ty)) {
            Some((_, spare)) => spare.pop().unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    /// Cuts `items` to `n`, keeping what is past the end (up to the bound) as spares of `ty`.
    #[inline]
    pub(crate) fn keep(&mut self, ty: &Type, items: &mut Vec<Value>, n: usize) {
        if items.len() <= n {
            return;
        }
        let at = match self.by_type.iter().position(|(t, _)| std::ptr::eq(*t, ty)) {
            Some(at) => at,
            None => {
                self.by_type.push((ty, Vec::new()));
                self.by_type.len() - 1
            }
        };
        let spare = &mut self.by_type[at].1;
        let room = MAX_SPARE.saturating_sub(spare.len());
        let end = items.len().min(n + room);
        spare.extend(items.drain(n..end));
        items.truncate(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_kept_by_item_type_and_bounded() {
        let (strings, objects) = (Type::String, Type::Object(Vec::new()));
        let mut spares = Spares::default();
        assert_eq!(spares.take(&strings), Value::Null);
        let mut items: Vec<Value> = (0..4).map(|i| Value::Str(i.to_string())).collect();
        spares.keep(&strings, &mut items, 1);
        assert_eq!(items, vec![Value::Str("0".into())]);
        // Not for another type; for its own, the last kept first.
        assert_eq!(spares.take(&objects), Value::Null);
        assert_eq!(spares.take(&strings), Value::Str("3".into()));
        // Nothing past the end: nothing kept, nothing cut.
        spares.keep(&strings, &mut items, 1);
        assert_eq!(items.len(), 1);
        // Bounded: a long array's surplus beyond the bound is dropped.
        let mut long: Vec<Value> = (0..1000).map(Value::Int).collect();
        spares.keep(&objects, &mut long, 0);
        assert!(long.is_empty());
        let mut kept = 0;
        while spares.take(&objects) != Value::Null {
            kept += 1;
        }
        assert_eq!(kept, MAX_SPARE);
    }
}
