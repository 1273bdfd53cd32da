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
    pub weights: Vec<Vec<f32>>,
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
        let weights = each_class(examples, labels, classes, dimension, settings, |w| w);
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
            rows.iter().map(|x| x.dot(&w)).collect::<Vec<f32>>()
        });
        (0..rows.len())
            .map(|r| by_class.iter().map(|scores| scores[r]).collect())
            .collect()
    }

    pub fn scores(&self, x: &Features) -> Vec<f32> {
        self.weights.iter().map(|w| x.dot(w)).collect()
    }
}

/// Trains the machine of each class, the classes shared among the cores, and keeps what
/// `keep` makes of its weights.
fn each_class<R: Send>(
    examples: &[&Features],
    labels: &[usize],
    classes: usize,
    dimension: usize,
    settings: LinearSettings,
    keep: impl Fn(Vec<f32>) -> R + Sync,
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
                for (offset, slot) in chunk.iter_mut().enumerate() {
                    let class = t * per_thread + offset;
                    let problem = Binary {
                        examples,
                        norms,
                        labels,
                        class,
                        positive_c: class_c[class],
                    };
                    *slot = Some(keep(problem.train(dimension, settings)));
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
    fn train(&self, dimension: usize, settings: LinearSettings) -> Vec<f32> {
        let Binary {
            examples,
            norms,
            labels,
            class,
            ..
        } = *self;
        // Squared hinge: the dual gets a diagonal term 1/(2C) and no upper bound on alpha.
        let (positive_diagonal, negative_diagonal) = (0.5 / self.positive_c, 0.5 / settings.c);
        let mut w = vec![0.0f32; dimension];
        let mut alpha = vec![0.0f32; examples.len()];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ class as u64);
        for _ in 0..settings.max_epochs {
            rng.shuffle(&mut order);
            let (mut max_pg, mut min_pg) = (f32::NEG_INFINITY, f32::INFINITY);
            for &i in &order {
                let (y, diagonal) = if labels[i] == class {
                    (1.0, positive_diagonal)
                } else {
                    (-1.0, negative_diagonal)
                };
                let x = examples[i];
                let gradient = y * x.dot(&w) - 1.0 + diagonal * alpha[i];
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
                    x.add_to(&mut w, (alpha[i] - old) * y);
                }
            }
            if max_pg - min_pg < settings.tolerance {
                break;
            }
        }
        w
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
}
