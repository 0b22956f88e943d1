//! The stepper's own tests, by what they exercise.

mod calls;
mod crash;
mod network;
