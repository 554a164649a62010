//! Dense row-major tensors: the values programs read and write.

use serde::Serialize;

/// A dense row-major tensor of static shape. `f32` is the storage type of the runtime; the
/// reference interpreter can also compute in `f64`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tensor<T = f32> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

impl<T: Copy> Tensor<T> {
    /// A tensor from its shape and row-major data.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape` (a caller bug).
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Tensor<T> {
        assert_eq!(
            super::numel(&shape),
            data.len(),
            "tensor of shape {shape:?} needs {} values",
            super::numel(&shape)
        );
        Tensor { shape, data }
    }

    pub fn full(shape: Vec<usize>, value: T) -> Tensor<T> {
        let n = super::numel(&shape);
        Tensor {
            shape,
            data: vec![value; n],
        }
    }

    pub fn scalar(value: T) -> Tensor<T> {
        Tensor {
            shape: vec![],
            data: vec![value],
        }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

impl Tensor<f32> {
    pub fn to_f64(&self) -> Tensor<f64> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| f64::from(v)).collect(),
        }
    }
}

impl Tensor<f64> {
    pub fn to_f32(&self) -> Tensor<f32> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| v as f32).collect(),
        }
    }
}
