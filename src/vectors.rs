//! Exact nearest-neighbour search over unit vectors. A help desk's history is thousands to
//! tens of thousands of tickets: a scan of contiguous rows is fast enough and never misses.

use std::borrow::Cow;

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use crate::kernels::{dot_rows, dot_rows_f16, normalise, Isa};

/// Index rows per task of a scan for many queries. The pipeline scans on the pool the encoder's
/// layers run on, where a worker waiting inside a layer may pick up a piece: a piece of 256
/// rows for 32 queries (about 3 million products) holds the layer up for a fraction of a
/// millisecond, where a whole scan of thousands of open tickets held it up for over one.
const SCAN_PIECE: usize = 256;

/// Vectors of one dimension in one buffer, row after row: one allocation for a whole history
/// rather than one per ticket, and an index takes it over without a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    dimension: usize,
    data: Vec<f32>,
}

impl Rows {
    /// `n` rows of zeros.
    pub fn zeros(n: usize, dimension: usize) -> Self {
        Self {
            dimension,
            data: vec![0.0; n * dimension],
        }
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dimension).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Adds a row at the end; `row` must have the rows' dimension.
    pub fn push(&mut self, row: &[f32]) {
        assert_eq!(row.len(), self.dimension, "row of the wrong dimension");
        self.data.extend_from_slice(row);
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dimension.max(1))
    }

    /// One vector per row, for code that keeps them apart.
    pub fn to_vecs(&self) -> Vec<Vec<f32>> {
        self.iter().map(<[f32]>::to_vec).collect()
    }
}

/// Rows of unit vectors with a payload each (a ticket or an article), held in half
/// precision: a history of 100,000 tickets is 77 MB instead of 154, and a scan reads half the
/// memory. Rounding moves a cosine by about 1e-4 at most, far below any threshold that
/// matters; queries and sums stay in f32.
#[derive(Debug, Clone)]
pub struct VectorIndex<T> {
    dimension: usize,
    rows: Vec<f16>,
    items: Vec<T>,
}

/// One search result: the item and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<'a, T> {
    pub item: &'a T,
    pub similarity: f32,
}

impl<T> VectorIndex<T> {
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension,
            rows: Vec::new(),
            items: Vec::new(),
        }
    }

    /// Adds `items`, whose vectors are `rows`, in the same order.
    pub fn extend(&mut self, rows: &Rows, items: impl IntoIterator<Item = T>) {
        assert_eq!(
            rows.dimension, self.dimension,
            "rows of the wrong dimension"
        );
        let before = self.items.len();
        self.items.extend(items);
        assert_eq!(self.items.len() - before, rows.len(), "one vector per item");
        let start = self.rows.len();
        self.rows.resize(start + rows.data.len(), f16::ZERO);
        self.rows[start..].convert_from_f32_slice(&rows.data);
    }

    /// Adds one item; `vector` must have the index's dimension and unit length.
    pub fn push(&mut self, vector: &[f32], item: T) {
        assert_eq!(
            vector.len(),
            self.dimension,
            "vector of the wrong dimension"
        );
        self.rows.extend(vector.iter().map(|&v| f16::from_f32(v)));
        self.items.push(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in insertion order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// The cosine similarity of `query` to every item, in insertion order.
    pub fn similarities(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.dimension, "query of the wrong dimension");
        let mut out = vec![0f32; self.items.len()];
        let rows: &[u16] = self.rows.reinterpret_cast();
        dot_rows_f16(Isa::detect(), rows, query, self.dimension, &mut out);
        out
    }

    /// The similarities of each of `queries` to every item: row `q` of the result holds query
    /// `q`'s, in insertion order, as [`VectorIndex::similarities`] gives them. One pass over
    /// the index for all the queries (a batch of tickets), which a scan each would read
    /// once per query. The index goes in pieces of [`SCAN_PIECE`] rows, each a task on the
    /// thread pool.
    pub fn similarities_many(&self, queries: &Rows) -> Rows {
        assert_eq!(
            queries.dimension, self.dimension,
            "queries of the wrong dimension"
        );
        let mut out = Rows::zeros(queries.len(), self.items.len());
        if queries.is_empty() || self.items.is_empty() {
            return out;
        }
        let (rows, dimension): (&[u16], _) = (self.rows.reinterpret_cast(), self.dimension);
        let isa = Isa::detect();
        let pieces: Vec<Vec<f32>> = rows
            .par_chunks(SCAN_PIECE * dimension)
            .map(|piece| {
                let mut part = vec![0f32; queries.len() * piece.len() / dimension];
                dot_rows_f16(isa, piece, &queries.data, dimension, &mut part);
                part
            })
            .collect();
        for (p, part) in pieces.iter().enumerate() {
            let count = part.len() / queries.len();
            for (q, similarities) in part.chunks_exact(count).enumerate() {
                out.row_mut(q)[p * SCAN_PIECE..][..count].copy_from_slice(similarities);
            }
        }
        out
    }

    /// The items with the similarities of one query to them (from
    /// [`VectorIndex::similarities_many`], say), to ask for the nearest.
    pub fn scanned<'a>(&'a self, similarities: &'a [f32]) -> Scan<'a, T> {
        assert_eq!(
            similarities.len(),
            self.items.len(),
            "one similarity per item"
        );
        Scan {
            items: &self.items,
            similarities: Cow::Borrowed(similarities),
        }
    }

    /// The index scanned for `query`.
    pub fn scan(&self, query: &[f32]) -> Scan<'_, T> {
        Scan {
            items: &self.items,
            similarities: Cow::Owned(self.similarities(query)),
        }
    }
}

/// An index's items with their similarities to one query: scanned once, then asked as often
/// as needed (the evidence's neighbours, similar tickets).
#[derive(Debug, Clone)]
pub struct Scan<'a, T> {
    items: &'a [T],
    similarities: Cow<'a, [f32]>,
}

impl<'a, T> Scan<'a, T> {
    /// A scan of no items (nothing to search).
    pub fn empty() -> Self {
        Self {
            items: &[],
            similarities: Cow::Borrowed(&[]),
        }
    }

    /// The `k` most similar items that pass `keep`, most similar first (of equals, the one
    /// added first).
    pub fn nearest(&self, k: usize, keep: impl Fn(&T) -> bool) -> Vec<Hit<'a, T>> {
        self.best_by(k, keep, |_, similarity| similarity)
            .into_iter()
            .map(|(hit, _)| hit)
            .collect()
    }

    /// The `k` items that pass `keep` with the highest `score` (of the item's position in the
    /// scan and its similarity), best first, each with its score; of equals, the one added
    /// first. Kept in a list of `k` as the items go by: a scan of tens of thousands of items
    /// with a few to find collects none of the others, and asks `keep` only of those that
    /// would enter it.
    pub fn best_by(
        &self,
        k: usize,
        keep: impl Fn(&T) -> bool,
        score: impl Fn(usize, f32) -> f32,
    ) -> Vec<(Hit<'a, T>, f32)> {
        let mut top: Vec<(Hit<'a, T>, f32)> = Vec::with_capacity(k + 1);
        if k == 0 {
            return top;
        }
        let items = self.items.iter().zip(self.similarities.iter()).enumerate();
        for (position, (item, &similarity)) in items {
            let value = score(position, similarity);
            let enters = top.len() < k || value.total_cmp(&top[k - 1].1).is_gt();
            if !enters || !keep(item) {
                continue;
            }
            let at = top.partition_point(|(_, v)| v.total_cmp(&value).is_ge());
            top.insert(at, (Hit { item, similarity }, value));
            top.truncate(k);
        }
        top
    }

    /// The items with their similarities, in the index's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a T, f32)> + '_ {
        self.items.iter().zip(self.similarities.iter().copied())
    }
}

/// The unit-length mean direction of `vectors` (empty for none).
pub fn unit_mean<'a>(vectors: impl IntoIterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for v in vectors {
        sum.resize(v.len(), 0.0);
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    normalise(sum)
}

/// The dot product over the length of the shorter (an empty vector, as an empty mean is,
/// gives 0).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut out = [0f32];
    dot_rows(Isa::detect(), &a[..n], &b[..n], &mut out);
    out[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_returns_the_most_similar_first_and_honours_the_filter() {
        let mut index = VectorIndex::new(2);
        index.push(&[1.0, 0.0], "east");
        index.push(&[0.0, 1.0], "north");
        index.push(&[0.6, 0.8], "north-east");
        let hits = index.scan(&[0.8, 0.6]).nearest(2, |_| true);
        assert_eq!(
            hits.iter().map(|h| *h.item).collect::<Vec<_>>(),
            ["north-east", "east"]
        );
        // Half precision: 0.6 and 0.8 are stored to within 2.5e-4.
        assert!((hits[0].similarity - 0.96).abs() < 5e-4);
        let hits = index
            .scan(&[0.8, 0.6])
            .nearest(5, |item| item.starts_with("north"));
        assert_eq!(hits.len(), 2);
        assert!(index.scan(&[1.0, 0.0]).nearest(0, |_| true).is_empty());
    }

    #[test]
    fn a_scan_for_many_queries_is_the_scans_for_each_and_keeps_the_first_of_equals() {
        let mut index = VectorIndex::new(2);
        for (v, name) in [
            ([1.0, 0.0], "east"),
            ([0.0, 1.0], "north"),
            ([1.0, 0.0], "east again"),
            ([0.6, 0.8], "north-east"),
        ] {
            index.push(&v, name);
        }
        let mut queries = Rows::zeros(3, 2);
        for (i, q) in [[0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]].iter().enumerate() {
            queries.row_mut(i).copy_from_slice(q);
        }
        let many = index.similarities_many(&queries);
        for i in 0..queries.len() {
            assert_eq!(many.row(i), index.similarities(queries.row(i)), "query {i}");
        }
        fn names(hits: Vec<Hit<'_, &'static str>>) -> Vec<&'static str> {
            hits.iter().map(|h| *h.item).collect()
        }
        let scan = index.scanned(many.row(2));
        // West: both easts at -1, last; of equals, the one added first comes first.
        assert_eq!(
            names(scan.nearest(4, |_| true))[2..],
            ["east", "east again"]
        );
        assert_eq!(names(scan.nearest(1, |n| n.starts_with("east"))), ["east"]);
        assert_eq!(
            names(index.scanned(many.row(1)).nearest(9, |_| true)).len(),
            4
        );
        assert!(Scan::<&str>::empty().nearest(3, |_| true).is_empty());
        let nothing = VectorIndex::<u8>::new(2).similarities_many(&queries);
        assert!(nothing.row(1).is_empty());
    }

    #[test]
    fn a_scan_in_pieces_is_the_scans_for_each_across_the_pieces_seams() {
        let dimension = 8;
        let mut index = VectorIndex::new(dimension);
        // Two full pieces and part of a third, so rows sit on both sides of each seam.
        let n = 2 * SCAN_PIECE + 37;
        for i in 0..n {
            let v: Vec<f32> = (0..dimension)
                .map(|d| ((i * 31 + d * 7) % 17) as f32 - 8.0)
                .collect();
            index.push(&v, i);
        }
        let mut queries = Rows::zeros(5, dimension);
        for q in 0..queries.len() {
            for (d, x) in queries.row_mut(q).iter_mut().enumerate() {
                *x = ((q * 5 + d * 3) % 11) as f32 - 5.0;
            }
        }
        let many = index.similarities_many(&queries);
        assert_eq!(many.len(), queries.len());
        for q in 0..queries.len() {
            assert_eq!(many.row(q), index.similarities(queries.row(q)), "query {q}");
        }
        let none = index.similarities_many(&Rows::zeros(0, dimension));
        assert!(none.is_empty());
    }

    #[test]
    fn similarities_stay_within_half_precision_of_f32() {
        let dimension = 384;
        let unit = |seed: usize| {
            normalise(
                (0..dimension)
                    .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0) - 1.0)
                    .collect(),
            )
        };
        let mut rows = Rows::zeros(150, dimension);
        for i in 0..rows.len() {
            rows.row_mut(i).copy_from_slice(&unit(i + 1));
        }
        let mut index = VectorIndex::new(dimension);
        index.extend(&rows, 0..rows.len());
        index.push(&unit(999), rows.len());
        let query = unit(0);
        let similarities = index.similarities(&query);
        assert_eq!(similarities.len(), 151);
        for (i, s) in similarities.iter().enumerate() {
            let row = if i < rows.len() {
                rows.row(i).to_vec()
            } else {
                unit(999)
            };
            let exact: f64 = row.iter().zip(&query).map(|(a, b)| f64::from(a * b)).sum();
            assert!(
                (f64::from(*s) - exact).abs() < 1e-3,
                "row {i}: {s} vs {exact}"
            );
        }
        assert_eq!(
            index.items().copied().collect::<Vec<_>>(),
            (0..151).collect::<Vec<_>>()
        );
    }
}
