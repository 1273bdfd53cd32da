//! One-vs-rest linear support vector machines (squared hinge loss, L2 regularisation), trained
//! by dual coordinate descent (Hsieh et al., ICML 2008, the method behind liblinear and
//! scikit-learn's `LinearSVC`). It needs no learning rate, converges in a few passes over
//! sparse text features, and each class trains independently, so classes share the cores.

use super::features::Features;

/// How the machines are trained.
#[derive(Debug, Clone, Copy)]
pub struct LinearSettings {
    /// Inverse regularisation strength (scikit-learn's `C`).
    pub c: f32,
    /// Upper bound on passes over the examples.
    pub max_epochs: usize,
    /// Stop when the largest violation of the optimality conditions in a pass is below this.
    pub tolerance: f32,
    /// How much a class's examples are up-weighted for being rare: its positives get
    /// `c · (n / (classes · n_class))^class_balance` (0: none, 1: scikit-learn's "balanced").
    pub class_balance: f32,
}

impl Default for LinearSettings {
    fn default() -> Self {
        Self {
            c: 0.5,
            max_epochs: 50,
            tolerance: 0.1,
            class_balance: 0.0,
        }
    }
}

/// One weight vector per class; a class's score is `weights[c] · x`.
#[derive(Debug, Clone)]
pub struct LinearModel {
    pub weights: Vec<ClassWeights>,
}

/// A trained class's weights, as compact as the machine is sparse: two thirds of the n-gram
/// slots of a class hold a zero (no support vector used them), so those are a bitmap and the
/// others are packed; the dense block (the embedding's weights and the bias) is kept as it
/// is. A 74-class model of 20,000 tickets takes about a third of its dense size (24 MB of 65),
/// and scores exactly as the dense weights do.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWeights {
    /// Weights from this index on are all in `dense`.
    dense_from: usize,
    dense: Vec<f32>,
    /// The sparse part, 64 weights a block: which are non-zero (and so in `packed`).
    blocks: Vec<Block>,
    packed: Vec<f32>,
}

/// 64 weights of the sparse part. The bits and the rank sit side by side: a lookup reads one
/// block, where separate arrays of bits and ranks made it two loads from two places.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Block {
    /// Bit `i`: whether weight `i` of the block is non-zero.
    present: u64,
    /// Where the block's weights start in `packed` (the set bits of the blocks before it).
    rank: u32,
}

impl ClassWeights {
    pub fn new(weights: &[f32], dense_from: usize) -> Self {
        let dense_from = dense_from.min(weights.len());
        let (sparse, dense) = weights.split_at(dense_from);
        // Sized once: a trained model outlives many allocations, and slack would be kept.
        let mut packed = Vec::with_capacity(sparse.iter().filter(|&&w| w != 0.0).count());
        let blocks = sparse
            .chunks(64)
            .map(|chunk| {
                let mut block = Block {
                    present: 0,
                    rank: packed.len() as u32,
                };
                for (bit, &w) in chunk.iter().enumerate() {
                    if w != 0.0 {
                        block.present |= 1 << bit;
                        packed.push(w);
                    }
                }
                block
            })
            .collect();
        Self {
            dense_from,
            dense: dense.to_vec(),
            blocks,
            packed,
        }
    }

    /// Weight `i` (zero past the end, as for a feature the model never saw).
    pub fn get(&self, i: u32) -> f32 {
        let i = i as usize;
        if i >= self.dense_from {
            return self.dense.get(i - self.dense_from).copied().unwrap_or(0.0);
        }
        let (block, bit) = (self.blocks[i / 64], 1u64 << (i % 64));
        if block.present & bit == 0 {
            return 0.0;
        }
        self.packed[block.rank as usize + (block.present & (bit - 1)).count_ones() as usize]
    }

    /// `self · x`, summed as [`Features::dot`] sums (the same score to the bit).
    pub fn score(&self, x: &Features) -> f32 {
        let (base, embedding) = x.embedding();
        let embedding_weights = match base.checked_sub(self.dense_from) {
            Some(offset) => &self.dense[offset..offset + embedding.len()],
            None => &[][..], // only features without an embedding start it before the dense part
        };
        x.dot_with(|i| self.get(i), embedding_weights)
    }
}

impl LinearModel {
    /// Trains `classes` machines on `examples` labelled by class index.
    pub fn train(
        examples: &[&Features],
        labels: &[usize],
        classes: usize,
        dimension: usize,
        settings: LinearSettings,
    ) -> Self {
        // The embedding's block and what follows it are dense in every class.
        let dense_from = examples.first().map_or(dimension, |x| x.embedding().0);
        let weights = each_class(examples, labels, classes, dimension, settings, |w| {
            ClassWeights::new(w, dense_from)
        });
        Self { weights }
    }

    /// The scores of `rows` by machines trained as [`LinearModel::train`] would, one row per
    /// example of `rows`: each class's weights are dropped once it has scored, so held-out
    /// scoring never holds a whole model (a megabyte per class).
    pub fn held_out_scores(
        examples: &[&Features],
        labels: &[usize],
        classes: usize,
        dimension: usize,
        settings: LinearSettings,
        rows: &[&Features],
    ) -> Vec<Vec<f32>> {
        let by_class = each_class(examples, labels, classes, dimension, settings, |w| {
            rows.iter().map(|x| x.dot(w)).collect::<Vec<f32>>()
        });
        (0..rows.len())
            .map(|r| by_class.iter().map(|scores| scores[r]).collect())
            .collect()
    }

    pub fn scores(&self, x: &Features) -> Vec<f32> {
        self.weights.iter().map(|w| w.score(x)).collect()
    }
}

/// Trains the machine of each class, the classes shared among the cores, and keeps what
/// `keep` makes of its weights. Each core trains its classes in one [`Workspace`], allocated
/// once rather than per class.
fn each_class<R: Send>(
    examples: &[&Features],
    labels: &[usize],
    classes: usize,
    dimension: usize,
    settings: LinearSettings,
    keep: impl Fn(&[f32]) -> R + Sync,
) -> Vec<R> {
    let norms: Vec<f32> = examples.iter().map(|x| x.squared_norm()).collect();
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l] += 1;
    }
    let class_c: Vec<f32> = counts
        .iter()
        .map(|&n| {
            let share = labels.len() as f32 / (classes as f32 * n.max(1) as f32);
            settings.c * share.powf(settings.class_balance)
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = classes.div_ceil(threads).max(1);
    let mut kept: Vec<Option<R>> = (0..classes).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (t, chunk) in kept.chunks_mut(per_thread).enumerate() {
            let (norms, class_c, keep) = (&norms, &class_c, &keep);
            scope.spawn(move || {
                let mut work = Workspace::new(dimension, examples.len());
                for (offset, slot) in chunk.iter_mut().enumerate() {
                    let class = t * per_thread + offset;
                    let problem = Binary {
                        examples,
                        norms,
                        labels,
                        class,
                        positive_c: class_c[class],
                    };
                    problem.train(&mut work, settings);
                    *slot = Some(keep(&work.w));
                }
            });
        }
    });
    kept.into_iter()
        .map(|r| r.expect("every class trained"))
        .collect()
}

/// The problem of separating `class` from the rest.
struct Binary<'a> {
    examples: &'a [&'a Features<'a>],
    norms: &'a [f32],
    labels: &'a [usize],
    class: usize,
    /// C of this class's own examples (the others get the settings' C).
    positive_c: f32,
}

impl Binary<'_> {
    /// Trains into `work.w`, whatever `work` held.
    fn train(&self, work: &mut Workspace, settings: LinearSettings) {
        let Binary {
            examples,
            norms,
            labels,
            class,
            ..
        } = *self;
        // Squared hinge: the dual gets a diagonal term 1/(2C) and no upper bound on alpha.
        let (positive_diagonal, negative_diagonal) = (0.5 / self.positive_c, 0.5 / settings.c);
        let Workspace { w, alpha, order } = work;
        w.fill(0.0);
        alpha.fill(0.0);
        order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ class as u64);
        for _ in 0..settings.max_epochs {
            rng.shuffle(order);
            let (mut max_pg, mut min_pg) = (f32::NEG_INFINITY, f32::INFINITY);
            for &i in order.iter() {
                let (y, diagonal) = if labels[i] == class {
                    (1.0, positive_diagonal)
                } else {
                    (-1.0, negative_diagonal)
                };
                let x = examples[i];
                let gradient = y * x.dot(w) - 1.0 + diagonal * alpha[i];
                let projected = if alpha[i] == 0.0 {
                    gradient.min(0.0)
                } else {
                    gradient
                };
                max_pg = max_pg.max(projected);
                min_pg = min_pg.min(projected);
                if projected != 0.0 {
                    let old = alpha[i];
                    alpha[i] = (old - gradient / (norms[i] + diagonal)).max(0.0);
                    x.add_to(w, (alpha[i] - old) * y);
                }
            }
            if max_pg - min_pg < settings.tolerance {
                break;
            }
        }
    }
}

/// The weights, dual variables and visiting order of one machine being trained.
struct Workspace {
    w: Vec<f32>,
    alpha: Vec<f32>,
    order: Vec<usize>,
}

impl Workspace {
    fn new(dimension: usize, examples: usize) -> Self {
        Self {
            w: vec![0.0; dimension],
            alpha: vec![0.0; examples],
            order: vec![0; examples],
        }
    }
}

/// A small deterministic generator: training is reproducible, so the same history always
/// gives the same model and the same version.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f32, y: f32) -> Features<'static> {
        Features::sparse(vec![0, 1, 2], vec![x, y, 1.0])
    }

    #[test]
    fn separates_three_clusters() {
        let centres = [(0.0, 3.0), (3.0, 0.0), (-3.0, -3.0)];
        let mut examples = Vec::new();
        let mut labels = Vec::new();
        for (class, (cx, cy)) in centres.iter().enumerate() {
            for k in 0..20 {
                let jitter = (k as f32 / 20.0 - 0.5) * 1.5;
                examples.push(point(cx + jitter, cy - jitter * 0.5));
                labels.push(class);
            }
        }
        let refs: Vec<&Features> = examples.iter().collect();
        let model = LinearModel::train(&refs, &labels, 3, 3, LinearSettings::default());
        for (x, &label) in examples.iter().zip(&labels) {
            let scores = model.scores(x);
            let best = (0..3)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap();
            assert_eq!(best, label, "{scores:?}");
        }
    }

    #[test]
    fn training_is_reproducible() {
        let examples: Vec<Features> = (0..30)
            .map(|i| point((i % 7) as f32 - 3.0, (i % 5) as f32 - 2.0))
            .collect();
        let labels: Vec<usize> = (0..30).map(|i| usize::from(i % 7 > 3)).collect();
        let refs: Vec<&Features> = examples.iter().collect();
        let a = LinearModel::train(&refs, &labels, 2, 3, LinearSettings::default());
        let b = LinearModel::train(&refs, &labels, 2, 3, LinearSettings::default());
        assert_eq!(a.weights, b.weights);
    }

    #[test]
    fn held_out_scores_are_the_trained_models_scores() {
        let examples: Vec<Features> = (0..40)
            .map(|i| point((i % 7) as f32 - 3.0, (i % 5) as f32 - 2.0))
            .collect();
        let labels: Vec<usize> = (0..40).map(|i| i % 3).collect();
        let refs: Vec<&Features> = examples.iter().collect();
        let (train, held_out) = refs.split_at(30);
        let settings = LinearSettings::default();
        let model = LinearModel::train(train, &labels[..30], 3, 3, settings);
        let scores = LinearModel::held_out_scores(train, &labels[..30], 3, 3, settings, held_out);
        let want: Vec<Vec<f32>> = held_out.iter().map(|x| model.scores(x)).collect();
        assert_eq!(scores, want);
    }

    #[test]
    fn compact_weights_are_the_dense_weights() {
        // Zeros and non-zeros across word boundaries of the bitmap, then a dense block.
        let dense: Vec<f32> = (0..200)
            .map(|i| {
                if i % 3 == 0 || (70..75).contains(&i) {
                    0.0
                } else {
                    i as f32 * 0.25 - 20.0
                }
            })
            .collect();
        let compact = ClassWeights::new(&dense, 150);
        for (i, &w) in dense.iter().enumerate() {
            assert_eq!(compact.get(i as u32), w, "weight {i}");
        }
        assert_eq!(compact.get(500), 0.0);
        assert!(compact.packed.len() < 150, "the zeros are not stored");
        let x = Features::sparse(
            vec![1, 3, 64, 71, 149, 150, 199],
            vec![0.5, 2.0, -1.0, 4.0, 0.25, 3.0, 1.0],
        );
        assert_eq!(compact.score(&x), x.dot(&dense));
    }
}
