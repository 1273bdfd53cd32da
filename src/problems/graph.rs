//! DBSCAN over a neighbour graph computed once with blocked matrix products.
//!
//! linfa-clustering's DBSCAN asks its nearest-neighbour index for every point's neighbourhood
//! one point at a time; in 384 dimensions no tree prunes, so that is n linear scans of
//! unvectorised distance code (31 s for 10,000 incidents on the 2-core machine). For unit
//! vectors the whole neighbourhood relation is one Gram matrix, which the GEMM candle already
//! ships computes at close to the machine's peak: computed block by block (upper triangle
//! only, it is symmetric) and thresholded as it comes, it never needs n² memory. The
//! clustering itself is then a breadth-first walk over the graph, with linfa's semantics
//! (a point counts in its own neighbourhood; clusters grow from core points in index order),
//! which a test holds against linfa on the same data.

use candle_core::{Device, Tensor};

use super::ProblemError;

/// Rows and columns per block of the Gram matrix: 2,048² similarities (16 MiB) at a time.
const BLOCK: usize = 2048;

/// For each vector, the others at cosine similarity ≥ `min_similarity`, with it.
pub struct Neighbours {
    lists: Vec<Vec<(u32, f32)>>,
}

impl Neighbours {
    /// `vectors` are unit length and of one dimension.
    pub fn build(vectors: &[&[f32]], min_similarity: f32) -> Result<Self, ProblemError> {
        let n = vectors.len();
        let mut lists = vec![Vec::new(); n];
        let Some(first) = vectors.first() else {
            return Ok(Self { lists });
        };
        let flat: Vec<f32> = vectors.iter().flat_map(|v| v.iter().copied()).collect();
        let all = Tensor::from_vec(flat, (n, first.len()), &Device::Cpu).map_err(gemm_error)?;
        let block = |start: usize| all.narrow(0, start, BLOCK.min(n - start));
        for row_start in (0..n).step_by(BLOCK) {
            let rows = block(row_start).map_err(gemm_error)?;
            // Blocks below the diagonal are the mirror of those above it.
            for column_start in (row_start..n).step_by(BLOCK) {
                let columns = block(column_start)
                    .and_then(|c| c.t())
                    .map_err(gemm_error)?;
                let gram = rows.matmul(&columns).map_err(gemm_error)?;
                let width = gram.dim(1).map_err(gemm_error)?;
                let gram = gram
                    .flatten_all()
                    .and_then(|g| g.to_vec1::<f32>())
                    .map_err(gemm_error)?;
                for (r, similarities) in gram.chunks_exact(width).enumerate() {
                    let i = row_start + r;
                    for (c, &s) in similarities.iter().enumerate() {
                        let j = column_start + c;
                        // Each pair once (j > i), recorded on both sides.
                        if j > i && s >= min_similarity {
                            lists[i].push((j as u32, s));
                            lists[j].push((i as u32, s));
                        }
                    }
                }
            }
        }
        Ok(Self { lists })
    }

    /// DBSCAN over `members` (indices of the built vectors), counting as neighbours only
    /// members at similarity ≥ `min_similarity` (at least the one built with). Returns the
    /// clusters as lists of indices; members in none are noise.
    pub fn dbscan(
        &self,
        members: &[usize],
        min_similarity: f32,
        min_points: usize,
    ) -> Vec<Vec<usize>> {
        let mut state = vec![State::Outside; self.lists.len()];
        for &m in members {
            state[m] = State::Unseen;
        }
        let neighbours = |state: &[State], i: usize| -> Vec<usize> {
            self.lists[i]
                .iter()
                .filter(|&&(j, s)| s >= min_similarity && state[j as usize] != State::Outside)
                .map(|&(j, _)| j as usize)
                .collect()
        };
        let mut clusters: Vec<Vec<usize>> = Vec::new();
        for &seed in members {
            if state[seed] != State::Unseen {
                continue;
            }
            let mut frontier = neighbours(&state, seed);
            // A point is in its own neighbourhood, as linfa counts it.
            if frontier.len() + 1 < min_points {
                state[seed] = State::Noise;
                continue;
            }
            let id = clusters.len();
            state[seed] = State::In(id);
            let mut cluster = vec![seed];
            while let Some(p) = frontier.pop() {
                match state[p] {
                    State::Unseen => {
                        state[p] = State::In(id);
                        cluster.push(p);
                        let next = neighbours(&state, p);
                        if next.len() + 1 >= min_points {
                            frontier.extend(next);
                        }
                    }
                    // Not core (its neighbourhood was counted): a border point.
                    State::Noise => {
                        state[p] = State::In(id);
                        cluster.push(p);
                    }
                    State::In(_) | State::Outside => {}
                }
            }
            cluster.sort_unstable();
            clusters.push(cluster);
        }
        clusters
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not among the points being clustered.
    Outside,
    Unseen,
    /// Not core and not (yet) reached from a cluster.
    Noise,
    In(usize),
}

fn gemm_error(e: candle_core::Error) -> ProblemError {
    ProblemError::Cluster(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Transformer;
    use linfa_clustering::Dbscan;
    use linfa_nn::distance::L2Dist;
    use linfa_nn::CommonNearestNeighbour;
    use ndarray::Array2;

    /// Unit vectors: `groups` dense groups of various sizes, scattered points, and points
    /// between two groups (border points two clusters could claim).
    fn data(seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let unit = |v: Vec<f32>| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let dimension = 24;
        let centres: Vec<Vec<f32>> = (0..12)
            .map(|_| unit((0..dimension).map(|_| next()).collect()))
            .collect();
        let mut out = Vec::new();
        for (g, centre) in centres.iter().enumerate() {
            for _ in 0..(2 + g * 3) {
                let noise: Vec<f32> = (0..dimension).map(|_| next()).collect();
                out.push(unit(
                    centre
                        .iter()
                        .zip(&noise)
                        .map(|(c, e)| c + 0.5 * e)
                        .collect(),
                ));
            }
        }
        for _ in 0..150 {
            out.push(unit((0..dimension).map(|_| next()).collect()));
        }
        for pair in centres.windows(2) {
            out.push(unit(
                pair[0].iter().zip(&pair[1]).map(|(a, b)| a + b).collect(),
            ));
        }
        out
    }

    fn linfa_clusters(
        vectors: &[Vec<f32>],
        max_distance: f32,
        min_points: usize,
    ) -> Vec<Vec<usize>> {
        let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
        let records = Array2::from_shape_vec((vectors.len(), vectors[0].len()), flat).unwrap();
        let labels = Dbscan::params_with(min_points, L2Dist, CommonNearestNeighbour::LinearSearch)
            .tolerance((2.0 * max_distance).sqrt())
            .transform(&records)
            .unwrap();
        let count = labels.iter().flatten().max().map_or(0, |&m| m + 1);
        let mut clusters = vec![Vec::new(); count];
        for (i, label) in labels.iter().enumerate() {
            if let Some(c) = label {
                clusters[*c].push(i);
            }
        }
        clusters
    }

    #[test]
    fn the_graph_walk_finds_what_linfas_dbscan_finds() {
        for seed in [1, 7, 42] {
            let vectors = data(seed);
            let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
            let all: Vec<usize> = (0..vectors.len()).collect();
            for (max_distance, min_points) in [(0.3, 3), (0.2, 3), (0.3, 5)] {
                let graph = Neighbours::build(&views, 1.0 - max_distance).unwrap();
                let mine = graph.dbscan(&all, 1.0 - max_distance, min_points);
                let theirs = linfa_clusters(&vectors, max_distance, min_points);
                assert!(theirs.len() >= 3, "the data has clusters (seed {seed})");
                let mut mine_sorted = mine.clone();
                let mut theirs_sorted = theirs.clone();
                mine_sorted.sort();
                theirs_sorted.sort();
                assert_eq!(
                    mine_sorted, theirs_sorted,
                    "seed {seed}, {max_distance}, {min_points}"
                );
            }
        }
    }

    #[test]
    fn a_subset_is_clustered_on_its_own_with_a_tighter_radius() {
        let vectors = data(3);
        let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let graph = Neighbours::build(&views, 0.7).unwrap();
        let subset: Vec<usize> = (0..vectors.len()).step_by(2).collect();
        let picked: Vec<Vec<f32>> = subset.iter().map(|&i| vectors[i].clone()).collect();
        let mut mine: Vec<Vec<usize>> = graph
            .dbscan(&subset, 0.8, 3)
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|i| subset.binary_search(&i).unwrap())
                    .collect()
            })
            .collect();
        let mut theirs = linfa_clusters(&picked, 0.2, 3);
        mine.sort();
        theirs.sort();
        assert!(!theirs.is_empty());
        assert_eq!(mine, theirs);
    }

    #[test]
    fn blocks_cover_every_pair_once() {
        // More vectors than one block, so pairs across blocks and the mirror are exercised.
        let n = BLOCK + 37;
        let vectors: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let angle = (i % 50) as f32 * 0.01;
                vec![angle.cos(), angle.sin(), 0.0]
            })
            .collect();
        let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let graph = Neighbours::build(&views, 0.999_99).unwrap();
        for (i, list) in graph.lists.iter().enumerate() {
            let expected = (0..n).filter(|&j| j != i && j % 50 == i % 50).count();
            assert_eq!(list.len(), expected, "vector {i}");
        }
    }
}
