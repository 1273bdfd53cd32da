//! The tickets' words beside their embeddings: a TF-IDF index of the history and one of the
//! open tickets, each in its vector index's order, and the mix of words and embeddings
//! learned from the store's duplicate links (see `knowledge::fusion`).

use std::collections::HashMap;

use crate::config::KnowledgeConfig;
use crate::knowledge::{self, Basis, Fusion, Linked, TfIdf};
use crate::triage::PastTicket;
use crate::vectors::{Rows, VectorIndex};

/// The words of the tickets similar-ticket search scans, and how they count.
#[derive(Debug, Clone, Default)]
pub(super) struct TicketWords {
    /// The history's, in `Triage::history`'s order.
    pub history: TfIdf,
    /// The open tickets', in `Pipeline::open`'s order.
    pub open: TfIdf,
    pub fusion: Fusion,
    /// How many duplicate links the mix was learned from: it is learned again only when that
    /// changes (the links are what it depends on; a reload after every batch need not redo it).
    pub learned_on: Option<usize>,
}

impl TicketWords {
    /// The links to learn the mix from, when it must be learned: the pipeline file sets no
    /// weight and the store's links changed since it was last learned (a reload after every
    /// batch then collects nothing).
    pub fn to_learn(
        &self,
        links: Vec<(i64, i64)>,
        config: &KnowledgeConfig,
        dimension: usize,
    ) -> Option<Links> {
        let changed = self.learned_on != Some(links.len());
        (config.similar_words_weight.is_none() && changed).then(|| Links::new(links, dimension))
    }

    /// Takes a reload's word indexes (history, open tickets) and learns the mix again from
    /// `history` (lent to the learning and given back) when there are `links` to learn from;
    /// a weight the pipeline file sets is taken as it is.
    pub async fn reload(
        &mut self,
        mut history: VectorIndex<PastTicket>,
        (mut history_words, mut open_words): (TfIdf, TfIdf),
        links: Option<Links>,
        config: &KnowledgeConfig,
    ) -> VectorIndex<PastTicket> {
        history_words.settle();
        open_words.settle();
        if let Some(weight) = config.similar_words_weight {
            self.fusion = Fusion {
                weight,
                basis: Basis::Fixed,
            };
        } else if let Some(links) = links {
            self.learned_on = Some(links.count());
            let shown = config.similar_tickets;
            (history, history_words, self.fusion) =
                links.learn(history, history_words, shown).await;
            tracing::info!(fusion = ?self.fusion, "similar tickets: the weight of shared words");
        }
        (self.history, self.open) = (history_words, open_words);
        history
    }
}

/// The store's duplicate links, and the linked tickets of the history as a reload reads it.
pub(super) struct Links {
    /// Each linked ticket's group: the tickets joined by links, directly or through others
    /// (two duplicates of one report are duplicates of each other), named by one member.
    group: HashMap<i64, i64>,
    count: usize,
    /// The linked tickets seen so far: their position, group and text.
    seen: Vec<(usize, i64, String)>,
    vectors: Rows,
}

impl Links {
    pub fn new(links: Vec<(i64, i64)>, dimension: usize) -> Self {
        let count = links.len();
        let mut parent: HashMap<i64, i64> = HashMap::new();
        fn root(parent: &mut HashMap<i64, i64>, id: i64) -> i64 {
            let mut at = id;
            while let Some(&up) = parent.get(&at).filter(|&&up| up != at) {
                at = up;
            }
            parent.insert(id, at);
            at
        }
        for (a, b) in links {
            let (a, b) = (root(&mut parent, a), root(&mut parent, b));
            parent.insert(a.max(b), a.min(b));
        }
        let ids: Vec<i64> = parent.keys().copied().collect();
        let group = ids
            .into_iter()
            .map(|id| (id, root(&mut parent, id)))
            .collect();
        Self {
            group,
            count,
            seen: Vec::new(),
            vectors: Rows::zeros(0, dimension),
        }
    }

    /// How many links the store has.
    pub fn count(&self) -> usize {
        self.count
    }

    /// A history ticket as the reload reads it: kept if it is linked to others.
    pub fn see(&mut self, position: usize, id: i64, text: &str, vector: &[f32]) {
        if let Some(&group) = self.group.get(&id) {
            self.seen.push((position, group, text.to_owned()));
            self.vectors.push(vector);
        }
    }

    /// The mix learned from the linked tickets of `history`, whose words are `words`, for
    /// agents shown `shown` similar tickets. The scans are seconds of CPU on a large store:
    /// off the async threads, the indexes lent to the task and given back.
    pub async fn learn(
        self,
        history: VectorIndex<PastTicket>,
        words: TfIdf,
        shown: usize,
    ) -> (VectorIndex<PastTicket>, TfIdf, Fusion) {
        tokio::task::spawn_blocking(move || {
            let mut members: HashMap<i64, Vec<usize>> = HashMap::new();
            for &(position, group, _) in &self.seen {
                members.entry(group).or_default().push(position);
            }
            let linked: Vec<Linked> = self
                .seen
                .into_iter()
                .map(|(position, group, text)| Linked {
                    position,
                    text,
                    earlier: members[&group]
                        .iter()
                        .copied()
                        .filter(|&p| p < position)
                        .collect(),
                })
                .collect();
            let fusion = knowledge::learn_fusion(&history, &words, &linked, &self.vectors, shown);
            (history, words, fusion)
        })
        .await
        .expect("learning the mix does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_linked_through_others_are_one_group_whichever_end_was_linked_from() {
        // 7 duplicates 5, which duplicates 3; 1 was linked from the earlier end to 9.
        let links = Links::new(vec![(5, 3), (7, 5), (1, 9)], 2);
        let group = |id| links.group[&id];
        assert_eq!((group(3), group(5), group(7)), (3, 3, 3));
        assert_eq!((group(1), group(9)), (1, 1));
        assert!(!links.group.contains_key(&4));
        assert_eq!(links.count(), 3);
    }
}
