//! fashion-tui: train a CNN on Fashion-MNIST in a background thread and watch and steer
//! it live in the terminal, or headless.

pub mod atomic;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cpus;
pub mod data;
pub mod device;
pub mod duration;
pub mod error;
pub mod escape;
pub mod events;
pub mod files;
pub mod headless;
pub mod live;
pub mod mkl;
pub mod model;
pub mod paths;
pub mod predict;
pub mod report;
pub mod rng;
pub mod startup;
pub mod store;
pub mod team;
pub mod train;
pub mod ui;
