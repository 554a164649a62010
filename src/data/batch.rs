//! Mini-batches without copying the data set: a seeded order of row indices per epoch, and
//! [`Dataset::gather`] filling a preallocated batch buffer from those rows.
//!
//! The compiled programs have static shapes, so every batch has exactly `batch` rows:
//! - Training uses full batches only. Each epoch is a fresh permutation cut into
//!   `n / batch` batches; the `n % batch` rows left over are skipped *this* epoch, and since the
//!   permutation changes every epoch, every row is seen over the run. When `n < batch`, the one
//!   batch of an epoch runs through the permutation and wraps around to fill up.
//! - Evaluation takes the rows in order; the last batch is padded with zero rows whose mask is 0,
//!   so metrics average over real rows only.
//!
//! The order is a pure function of `(seed, epoch)`: resuming needs only the epoch and the step.

use super::rng::{permutation, stream, Purpose};
use super::Dataset;

/// Cuts `n` examples into batches of `batch`, with a seeded shuffle per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batcher {
    n: usize,
    batch: usize,
    seed: u64,
}

/// The batches of one pass: an order of row indices cut into consecutive slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    order: Vec<usize>,
    batch: usize,
}

impl Batcher {
    /// A batcher over `n` examples; a `batch` of 0 is taken as 1.
    pub fn new(n: usize, batch: usize, seed: u64) -> Batcher {
        Batcher {
            n,
            batch: batch.max(1),
            seed,
        }
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Training steps in one epoch: `n / batch` full batches, at least 1 when `n > 0`.
    pub fn steps_per_epoch(&self) -> usize {
        if self.n == 0 {
            0
        } else {
            (self.n / self.batch).max(1)
        }
    }

    /// The shuffled order of all `n` rows in `epoch`.
    pub fn permutation(&self, epoch: usize) -> Vec<usize> {
        permutation(
            self.n,
            &mut stream(self.seed, Purpose::Batches, epoch as u64),
        )
    }

    /// The training batches of `epoch`: [`Batcher::steps_per_epoch`] full batches.
    pub fn epoch(&self, epoch: usize) -> Epoch {
        let shuffled = self.permutation(epoch);
        let order = shuffled
            .iter()
            .copied()
            .cycle()
            .take(self.steps_per_epoch() * self.batch)
            .collect();
        Epoch {
            order,
            batch: self.batch,
        }
    }

    /// The evaluation batches over `n` rows in order; the last one may be short (pad it with
    /// [`Dataset::gather`] into a full-size buffer).
    pub fn evaluation(n: usize, batch: usize) -> Epoch {
        Epoch {
            order: (0..n).collect(),
            batch: batch.max(1),
        }
    }
}

impl Epoch {
    /// The batches in order, each a slice of row indices.
    pub fn batches(&self) -> std::slice::Chunks<'_, usize> {
        self.order.chunks(self.batch)
    }

    /// Batch number `step` of this epoch (0-based), for resuming mid-epoch.
    pub fn batch(&self, step: usize) -> Option<&[usize]> {
        self.batches().nth(step)
    }

    /// Number of batches.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch)
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl Dataset {
    /// Copies rows `indices` into a batch buffer of `mask_out.len()` rows: `x_out` holds
    /// `rows × input_width` values, `y_out` `rows × target_width`. Rows past `indices.len()` are
    /// padding: zeros, with mask 0; real rows get mask 1.
    ///
    /// # Panics
    /// If a buffer has the wrong size, there are more indices than rows, or an index is out of
    /// range: these are caller bugs, never caused by data.
    pub fn gather(
        &self,
        indices: &[usize],
        x_out: &mut [f32],
        y_out: &mut [f32],
        mask_out: &mut [f32],
    ) {
        let rows = mask_out.len();
        let (x_width, y_width) = (self.input_width(), self.target_width());
        assert!(
            indices.len() <= rows,
            "{} indices for a batch of {rows}",
            indices.len()
        );
        assert_eq!(
            x_out.len(),
            rows * x_width,
            "x buffer for {rows} rows of {x_width}"
        );
        assert_eq!(
            y_out.len(),
            rows * y_width,
            "y buffer for {rows} rows of {y_width}"
        );
        for (slot, &row) in indices.iter().enumerate() {
            x_out[slot * x_width..(slot + 1) * x_width]
                .copy_from_slice(&self.x.data[row * x_width..(row + 1) * x_width]);
            y_out[slot * y_width..(slot + 1) * y_width]
                .copy_from_slice(&self.y.data[row * y_width..(row + 1) * y_width]);
            mask_out[slot] = 1.0;
        }
        let used = indices.len();
        x_out[used * x_width..].fill(0.0);
        y_out[used * y_width..].fill(0.0);
        mask_out[used..].fill(0.0);
    }
}
