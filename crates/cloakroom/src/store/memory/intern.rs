//! User agents, kept once for all the sessions that carry the same one.

use std::sync::Arc;

use hashbrown::hash_table::Entry;

use super::table::Sharded;

/// One copy of each user agent in use, with how many sessions hold it. Browsers send a few
/// hundred distinct strings of up to 256 bytes, so a store of a million sessions keeps a few
/// hundred, not a million. A string is dropped when the last session holding it goes.
#[derive(Debug)]
pub(super) struct Interner {
    table: Sharded<(Arc<str>, usize)>,
}

impl Interner {
    pub(super) fn new() -> Self {
        Self {
            table: Sharded::new(),
        }
    }

    /// The shared copy of `text`, now held by one more session.
    pub(super) fn acquire(&self, text: &Arc<str>) -> Arc<str> {
        let hash = self.table.hash(&**text);
        let mut shard = self.table.write(hash);
        let entry = shard.entry(
            hash,
            |(kept, _)| **kept == **text,
            |(kept, _)| self.table.hash(&**kept),
        );
        match entry {
            Entry::Occupied(mut kept) => {
                let (kept, holders) = kept.get_mut();
                *holders += 1;
                Arc::clone(kept)
            }
            Entry::Vacant(slot) => {
                slot.insert((Arc::clone(text), 1));
                Arc::clone(text)
            }
        }
    }

    /// `text` is held by one session fewer; the last one takes it out.
    pub(super) fn release(&self, text: &str) {
        let hash = self.table.hash(text);
        let mut shard = self.table.write(hash);
        if let Ok(mut kept) = shard.find_entry(hash, |(kept, _)| **kept == *text) {
            kept.get_mut().1 -= 1;
            if kept.get().1 == 0 {
                kept.remove();
            }
        }
    }

    /// How many distinct strings are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.each_read().map(|s| s.len()).sum()
    }
}
