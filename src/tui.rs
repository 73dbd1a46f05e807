//! The keyboard console.
