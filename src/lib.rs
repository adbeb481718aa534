//! fashion-tui: train a CNN on Fashion-MNIST in a background thread and watch and steer
//! it live in the terminal, or headless.

pub mod data;
pub mod device;
