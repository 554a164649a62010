//! Exports a checked model to the frameworks people train in for real: today a PyTorch
//! module (`netc export FILE --torch OUT.py`). Pure: the text is returned, the caller writes it.

pub mod torch;
