//! (being written)

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::support::Env;

pub fn tests(_env: &Arc<Env>) -> Vec<Trial> {
    Vec::new()
}
